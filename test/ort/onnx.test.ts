import { readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import {
  appendExternal,
  externalLocations,
  externalRange,
  joinPieces,
  listTensors,
  rebuildTensor,
  rewriteTensors,
  TensorField,
} from '../../src/ort/onnx.js';
import { restoreWeights, stripWeights } from '../../src/ort/weightless.js';
import { randomBytes } from '../helpers.js';
import { models } from '../models.js';
import { dirs, tinyTransformer } from './helpers.js';

const { onnx } = onnxProto;
const newDir = dirs('modelcache-onnx-');

function rawOf(t: { rawData?: Uint8Array | null }): Buffer {
  const r = t.rawData ?? new Uint8Array(0);
  return Buffer.from(r.buffer, r.byteOffset, r.byteLength);
}

describe('listTensors', () => {
  it('finds every initializer of a real model with its name, dims and raw data, as the protobuf library decodes them', () => {
    const bytes = readFileSync(models.ocrCls);
    const decoded = onnx.ModelProto.decode(bytes);
    const found = listTensors(bytes).filter((t) => t.place === 'initializer');
    expect(found.map((t) => t.name)).toEqual(decoded.graph!.initializer!.map((t) => t.name));
    for (const [i, t] of found.entries()) {
      const ref = decoded.graph!.initializer![i];
      expect(t.dims).toEqual(ref.dims!.map(Number));
      expect(t.dataType).toBe(ref.dataType);
      expect(Buffer.from(bytes.subarray(t.raw!.offset, t.raw!.offset + t.raw!.length)).equals(rawOf(ref))).toBe(true);
    }
  });

  it('descends into Constant attributes and the subgraphs of If nodes (Silero VAD)', () => {
    const bytes = readFileSync(models.sileroVad);
    const graph = onnx.ModelProto.decode(bytes).graph!;
    const topLevel = graph.node!.filter((n) => n.attribute!.some((a) => a.t)).length;
    const subgraphs = graph.node!.filter((n) => n.attribute!.some((a) => a.g));
    expect(subgraphs.length).toBeGreaterThan(0);
    const inSubgraphs = subgraphs.flatMap((n) => n.attribute!.filter((a) => a.g).flatMap((a) => a.g!.node!.filter((m) => m.attribute!.some((x) => x.t))));
    const tensors = listTensors(bytes);
    expect(tensors.every((t) => t.place === 'attribute')).toBe(true);
    expect(tensors.filter((t) => t.graphDepth === 0).length).toBe(topLevel);
    expect(tensors.filter((t) => t.graphDepth === 1).length).toBe(inSubgraphs.length);
    expect(inSubgraphs.length).toBeGreaterThan(0);
  });

  it('reads external data entries and lists their distinct locations', () => {
    const m = tinyTransformer(newDir());
    const bytes = readFileSync(m.path);
    expect(externalLocations(bytes)).toEqual(['model.onnx.data']);
    const size = readFileSync(m.dataPath).byteLength;
    const emb = listTensors(bytes).find((t) => t.name === 'embeddings.word')!;
    expect(emb.external).toMatchObject({ location: 'model.onnx.data', offset: '0' });
    expect(externalRange(emb, size)).toEqual({ offset: 0, length: 512 * 768 * 4 });
  });

  it('rejects an external range outside its file', () => {
    const m = tinyTransformer(newDir());
    const emb = listTensors(readFileSync(m.path)).find((t) => t.name === 'embeddings.word')!;
    expect(() => externalRange(emb, 100)).toThrow(expect.objectContaining({ code: 'ERR_CORRUPT' }));
  });

  it('gives ERR_CORRUPT, never a crash or a bad read, on truncated and random bytes', () => {
    const bytes = readFileSync(models.ocrCls);
    let corrupt = 0;
    for (let cut = 1; cut < 4000; cut += 37) {
      try {
        listTensors(bytes.subarray(0, cut));
      } catch (err) {
        expect((err as { code?: string }).code).toBe('ERR_CORRUPT');
        corrupt++;
      }
    }
    expect(corrupt).toBeGreaterThan(0);
    for (let seed = 1; seed <= 200; seed++) {
      try {
        listTensors(randomBytes(512, seed));
      } catch (err) {
        expect((err as { code?: string }).code).toBe('ERR_CORRUPT');
      }
    }
  });
});

describe('rewriteTensors', () => {
  it('leaves a model byte-identical when nothing is replaced', () => {
    const bytes = readFileSync(models.ocrCls);
    expect(joinPieces(rewriteTensors(bytes, () => undefined)).equals(bytes)).toBe(true);
  });

  it('replaces a tensor inside a subgraph and keeps the model decodable', () => {
    const bytes = readFileSync(models.sileroVad);
    const target = listTensors(bytes).find((t) => t.graphDepth > 0 && t.raw && t.raw.length > 0)!;
    const out = joinPieces(
      rewriteTensors(bytes, (t) =>
        t.start === target.start
          ? rebuildTensor(bytes, t, [TensorField.rawData], (w) => appendExternal(w, { location: 'x.bin', offset: '0', length: String(target.raw!.length) }))
          : undefined,
      ),
    );
    const again = listTensors(out).find((t) => t.external)!;
    expect(again.graphDepth).toBe(target.graphDepth);
    expect(again.raw).toBeUndefined();
    expect(again.external).toEqual({ location: 'x.bin', offset: '0', length: String(target.raw!.length) });
    expect(() => onnx.ModelProto.decode(out)).not.toThrow();
    expect(listTensors(out).length).toBe(listTensors(bytes).length);
  });
});

describe('weightless entries', () => {
  it('store only what differs from the source and restore the model byte for byte', () => {
    const source = readFileSync(models.ocrCls);
    // An "optimized" model: the source with one weight changed.
    const changed = listTensors(source).find((t) => t.raw && t.raw.length > 1000)!;
    const optimized = Buffer.from(source);
    optimized[changed.raw!.offset] ^= 0xff;
    const { model, stats } = stripWeights(optimized, { bytes: [source], locations: [] });
    expect(stats.stored).toBeGreaterThan(0);
    expect(model.byteLength).toBeLessThan(optimized.byteLength / 5);
    const restored = restoreWeights(model, { bytes: [source], locations: [] });
    const a = onnx.ModelProto.decode(restored).graph!.initializer!;
    const b = onnx.ModelProto.decode(optimized).graph!.initializer!;
    expect(a.length).toBe(b.length);
    const byName = new Map(b.map((t) => [t.name, t]));
    for (const t of a) expect(rawOf(t).equals(rawOf(byName.get(t.name)!))).toBe(true);
  });

  it('turn references to the source external data into references to source files', () => {
    const m = tinyTransformer(newDir());
    const model = readFileSync(m.path);
    const data = readFileSync(m.dataPath);
    const src = { bytes: [model, data], locations: ['model.onnx.data'] };
    const { model: entry, stats } = stripWeights(model, src);
    expect(stats.referencedBytes).toBe(listTensors(model).reduce((n, t) => n + (t.external ? Number(t.external.length) : 0), 0));
    const restored = restoreWeights(entry, src);
    const emb = onnx.ModelProto.decode(restored).graph!.initializer!.find((t) => t.name === 'embeddings.word')!;
    expect(rawOf(emb).equals(data.subarray(0, 512 * 768 * 4))).toBe(true);
  });

  it('refuse a reference to a source file that is not there', () => {
    const m = tinyTransformer(newDir());
    const model = readFileSync(m.path);
    const src = { bytes: [model, readFileSync(m.dataPath)], locations: ['model.onnx.data'] };
    const { model: entry } = stripWeights(model, src);
    expect(() => restoreWeights(entry, { bytes: [model], locations: [] })).toThrow(expect.objectContaining({ code: 'ERR_CORRUPT' }));
  });
});
