// The file scanner of external data references (src/onnx/scan.ts) against the in-memory reader on
// real models and on a model whose inline tensors are larger than the scanner's read window, with
// external references before, between and after them (and inside an If subgraph).
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { externalLocationsOfFile } from '../../src/onnx/scan.js';
import { externalLocations } from '../../src/ort/onnx.js';
import { tempDir } from '../helpers.js';
import { models } from '../models.js';
import { tinyTransformer } from '../ort/helpers.js';
import { FLOAT, floats, graph, model, node, vi } from './build.js';

const dir = tempDir('modelcache-scan-');
const ext = (name: string, location: string) => ({
  name, dims: [4], dataType: FLOAT, dataLocation: 1,
  externalData: [{ key: 'location', value: location }, { key: 'offset', value: '0' }, { key: 'length', value: '16' }],
});

describe('externalLocationsOfFile', () => {
  it.each(Object.entries(models))('gives what the in-memory reader gives on %s', (_name, path) => {
    expect(externalLocationsOfFile(path)).toEqual(externalLocations(readFileSync(path)));
  });

  it('finds the external data of a transformer whose weights are outside its graph', () => {
    const t = tinyTransformer(dir);
    const found = externalLocationsOfFile(t.path);
    expect(found).toEqual(['model.onnx.data']);
    expect(found).toEqual(externalLocations(readFileSync(t.path)));
  });

  it('reads across inline tensors larger than its window, subgraphs included', () => {
    const big = (name: string) => floats(name, [50_000], Array.from({ length: 50_000 }, (_, i) => i % 7));
    const then = graph([node('Identity', ['e3'], ['t'])], [], [vi('t', FLOAT)], [ext('e3', 'sub.bin')], 'then');
    const g = graph(
      [node('If', ['c'], ['y'], { then_branch: { graph: then }, else_branch: { graph: then } })],
      [vi('c', 9)], [vi('y', FLOAT)],
      [ext('e1', 'a.bin'), big('w1'), ext('e2', 'b.bin'), big('w2'), ext('e4', 'a.bin')],
    );
    const file = join(dir, 'window.onnx');
    writeFileSync(file, model(g));
    expect(externalLocationsOfFile(file)).toEqual(['sub.bin', 'a.bin', 'b.bin']); // nodes are written before initializers
    expect(externalLocationsOfFile(file)).toEqual(externalLocations(readFileSync(file)));
  });

  it('calls a truncated model corrupt, as the in-memory reader does', () => {
    const file = join(dir, 'cut.onnx');
    writeFileSync(file, readFileSync(models.ocrCls));
    truncateSync(file, 100_000);
    expect(() => externalLocations(readFileSync(file))).toThrow(expect.objectContaining({ code: 'ERR_CORRUPT' }));
    expect(() => externalLocationsOfFile(file)).toThrow(expect.objectContaining({ code: 'ERR_CORRUPT' }));
  });
});
