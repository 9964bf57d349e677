// Model metadata rewriting (src/onnx/metadata.ts): what is set, what is kept, and stable bytes.
import { describe, expect, it } from 'vitest';
import { readMetadataProps, setMetadata } from '../../src/onnx/metadata.js';
import { joinPieces } from '../../src/onnx/wire.js';
import { decode, FLOAT, graph, model, node, onnx, vi } from './build.js';

function withProps(props: Record<string, string>): Buffer {
  const m = onnx.ModelProto.decode(model(graph([node('Relu', ['x'], ['y'])], [vi('x', FLOAT, [2])], [vi('y', FLOAT, [2])])));
  m.metadataProps = Object.entries(props).map(([key, value]) => ({ key, value }));
  m.docString = 'old doc';
  return Buffer.from(onnx.ModelProto.encode(m).finish());
}

describe('setMetadata', () => {
  it('sets producer, version and doc string and keeps the graph byte for byte', () => {
    const src = withProps({});
    const out = decode(joinPieces(setMetadata(src, { producerName: 'team', producerVersion: '2.1', docString: 'new doc' })));
    expect(out).toMatchObject({ producerName: 'team', producerVersion: '2.1', docString: 'new doc' });
    expect(onnx.GraphProto.encode(out.graph!).finish()).toEqual(onnx.GraphProto.encode(decode(src).graph!).finish());
  });

  it('replaces props with the same key, keeps the others, and writes new ones in key order', () => {
    const out = joinPieces(setMetadata(withProps({ keep: '1', stage: 'dev' }), { props: { stage: 'release', b: '2', a: '3' } }));
    expect(readMetadataProps(out)).toEqual([['keep', '1'], ['a', '3'], ['b', '2'], ['stage', 'release']]);
    expect(decode(out).docString).toBe('old doc');
  });

  it('drops every earlier prop with replaceProps', () => {
    expect(readMetadataProps(joinPieces(setMetadata(withProps({ keep: '1' }), { props: { only: 'x' }, replaceProps: true })))).toEqual([['only', 'x']]);
  });

  it('gives the same bytes for the same settings in any key order', () => {
    const src = withProps({});
    expect(joinPieces(setMetadata(src, { props: { a: '1', b: '2' } }))).toEqual(joinPieces(setMetadata(src, { props: { b: '2', a: '1' } })));
  });

  it('refuses a model with a malformed metadata_props entry instead of copying it', () => {
    // An entry whose key parses but whose next field has wire type 6 (found by the fuzz target).
    const bad = Buffer.concat([withProps({}), Buffer.from([0x72, 0x06, 0x0a, 0x01, 0x6b, 0x1e, 0x00, 0x00])]);
    expect(() => setMetadata(bad, { props: { a: '1' } })).toThrow(/not a valid ONNX model/);
  });

  it('refuses bytes that are not a model', () => {
    expect(() => setMetadata(Buffer.from([0x08, 0x01]), { docString: 'x' })).toThrow(/not a valid ONNX model: no graph/);
  });
});
