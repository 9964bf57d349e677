#!/usr/bin/env node
// Writes the seed corpus of the onnx-model fuzz target (test/fuzz/corpus/onnx-model/): small
// graphs that reach every branch of src/onnx (blocked ops, Casts, Constants, If subgraphs, float
// data, external data references, local functions, untyped values). Run once; seeds are committed.
import { mkdirSync, writeFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
const T = onnx.AttributeProto.AttributeType;
const FLOAT = 1;
const dir = new URL('./corpus/onnx-model/', import.meta.url);
mkdirSync(dir, { recursive: true });

const f32 = (name, dims, values) => ({ name, dims, dataType: FLOAT, rawData: new Uint8Array(Float32Array.from(values).buffer) });
const vi = (name, elemType) => (elemType ? { name, type: { tensorType: { elemType, shape: { dim: [{ dimValue: 2 }] } } } } : { name });
const attr = (name, v) => (typeof v === 'number' ? { name, type: T.INT, i: v } : v.g ? { name, type: T.GRAPH, g: v.g } : v.t ? { name, type: T.TENSOR, t: v.t } : { name, type: T.FLOAT, f: v.f });
const node = (opType, input, output, attrs = {}, domain = '') => ({ opType, input, output, name: `${opType}_${output[0]}`, domain, attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)) });
const save = (name, graph, extra = {}) =>
  writeFileSync(new URL(name, dir), onnx.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph, ...extra }).finish());

save('linear', { node: [node('MatMul', ['x', 'W'], ['xw']), node('Add', ['xw', 'B'], ['y'])], input: [vi('x', FLOAT)], output: [vi('y', FLOAT)], initializer: [f32('W', [2, 2], [1, 2, 3, 4]), f32('B', [2], [0.5, -0.5])] });
save('blocked', {
  node: [node('Mul', ['x', 'S'], ['xs']), node('TopK', ['xs', 'K'], ['v', 'i'], { axis: 0 }), node('Cast', ['i'], ['ic'], { to: FLOAT }), node('Add', ['v', 'ic'], ['y']), node('Resize', ['y', '', 'sc'], ['r'])],
  input: [vi('x', FLOAT)],
  output: [vi('r', FLOAT), vi('y', FLOAT)],
  initializer: [f32('S', [1], [2]), { name: 'K', dims: [1], dataType: 7, rawData: new Uint8Array(8).fill(0).map((_, i) => (i === 0 ? 1 : 0)) }, f32('sc', [1], [1])],
  valueInfo: [vi('xs', FLOAT), vi('v', FLOAT)],
});
save('constants', {
  node: [node('Constant', [], ['c'], { value_float: { f: 1e-9 } }), node('Shape', ['x'], ['s']), node('ConstantOfShape', ['s'], ['z']), node('Constant', [], ['t'], { value: { t: { dims: [2], dataType: FLOAT, floatData: [2e5, NaN] } } }), node('Add', ['x', 'c'], ['a']), node('Add', ['a', 'z'], ['b']), node('Mul', ['b', 't'], ['y'])],
  input: [vi('x', FLOAT)],
  output: [vi('y', FLOAT)],
});
const branch = (k) => ({ name: `b${k}`, node: [node('Mul', ['x', `k${k}`], [`o${k}`])], output: [vi(`o${k}`, FLOAT)], initializer: [f32(`k${k}`, [1], [k])] });
save('if', { node: [node('ReduceSum', ['x'], ['s'], { keepdims: 0 }), node('Greater', ['s', 'zero'], ['cond']), node('If', ['cond'], ['y'], { then_branch: { g: branch(2) }, else_branch: { g: branch(3) } })], input: [vi('x', FLOAT)], output: [vi('y', FLOAT)], initializer: [f32('zero', [], [0])] });
save('external', {
  node: [node('Add', ['x', 'W'], ['y'])],
  input: [vi('x', FLOAT)],
  output: [vi('y', FLOAT)],
  initializer: [{ name: 'W', dims: [2], dataType: FLOAT, dataLocation: 1, externalData: [{ key: 'location', value: 'model.onnx.data' }, { key: 'offset', value: '0' }, { key: 'length', value: '8' }] }],
});
save('untyped-function', { node: [node('Identity', ['x'], ['i']), node('MyFn', ['i'], ['y'], {}, 'local')], input: [vi('x')], output: [vi('y', FLOAT)] }, {
  functions: [{ name: 'MyFn', domain: 'local', input: ['a'], output: ['b'], node: [node('Relu', ['a'], ['b'])], opsetImport: [{ domain: '', version: 17 }] }],
  metadataProps: [{ key: 'k', value: 'v' }],
});
