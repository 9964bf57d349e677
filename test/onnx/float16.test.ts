// float32 -> float16 conversion (src/onnx/float16.ts) on small generated graphs: what it changes,
// where it inserts Casts, and that the result runs in onnxruntime close to the float32 model.
import { describe, expect, it } from 'vitest';
import { castFloat32ToFloat16 } from '../../src/cast.js';
import { CacheError } from '../../src/errors.js';
import { convertFloatToFloat16, DEFAULT_OP_BLOCK_LIST } from '../../src/onnx/float16.js';
import { joinPieces } from '../../src/onnx/wire.js';
import { decode, FLOAT, FLOAT16, floats, graph, int64s, maxDiff, model, node, runModel, vi } from './build.js';

const x = { dims: [2, 4], data: [0.5, -1, 2, 0.25, 1.5, -0.75, 3, -2] };
const convert = (m: Uint8Array, opts = {}) => joinPieces(convertFloatToFloat16(m, opts).model);
const w = floats('W', [4, 3], [0.1, -0.2, 0.3, 0.4, 0.5, -0.6, 0.7, 0.8, -0.9, 1.0, 1.1, 1.2]);
const b = floats('B', [3], [0.01, -0.02, 0.03]);

/** y = x @ W + B */
const linear = () => model(graph([node('MatMul', ['x', 'W'], ['xw']), node('Add', ['xw', 'B'], ['y'])], [vi('x', FLOAT, [2, 4])], [vi('y', FLOAT, [2, 3])], [w, b]));

describe('convertFloatToFloat16', () => {
  it('turns float weights into float16 and keeps graph inputs and outputs float32 behind Casts', async () => {
    const src = linear();
    const out = convert(src);
    const m = decode(out);
    expect(m.graph!.initializer!.map((t) => t.dataType)).toEqual([FLOAT16, FLOAT16]);
    expect(m.graph!.input![0].type!.tensorType!.elemType).toBe(FLOAT);
    expect(m.graph!.output![0].type!.tensorType!.elemType).toBe(FLOAT);
    expect(m.graph!.node!.filter((n) => n.opType === 'Cast').map((n) => [n.input![0], n.output![0], Number(n.attribute![0].i)])).toEqual([
      ['x', 'x_fp16', FLOAT16],
      ['y_fp16', 'y', FLOAT],
    ]);
    const [want, got] = [await runModel(src, { x }), await runModel(out, { x })];
    expect(maxDiff(want.y, got.y)).toBeLessThan(5e-3);
  });

  it('with keep_io_types false makes graph inputs and outputs float16 and adds no Cast', () => {
    const m = decode(convert(linear(), { keepIoTypes: false }));
    expect(m.graph!.input![0].type!.tensorType!.elemType).toBe(FLOAT16);
    expect(m.graph!.output![0].type!.tensorType!.elemType).toBe(FLOAT16);
    expect(m.graph!.node!.some((n) => n.opType === 'Cast')).toBe(false);
  });

  it('keeps a blocked op in float32 with one Cast per value and direction at its boundary', async () => {
    // TopK (blocked by default) between two float16 regions; its int64 indices need no Cast.
    const src = model(
      graph(
        [node('Mul', ['x', 'S'], ['xs']), node('TopK', ['xs', 'K'], ['v', 'i'], { axis: 1 }), node('Add', ['v', 'v'], ['y']), node('Cast', ['i'], ['ic'], { to: FLOAT }), node('Add', ['ic', 'y'], ['z'])],
        [vi('x', FLOAT, [2, 4])],
        [vi('z', FLOAT, [2, 2])],
        [floats('S', [1], [2]), int64s('K', [1], [2])],
      ),
    );
    const out = convert(src);
    const nodes = decode(out).graph!.node!;
    const topk = nodes.find((n) => n.opType === 'TopK')!;
    const producer = (name: string) => nodes.find((n) => n.output!.includes(name))!;
    expect(producer(topk.input![0]).opType).toBe('Cast');
    expect(Number(producer(topk.input![0]).attribute![0].i)).toBe(FLOAT);
    expect(topk.input![1]).toBe('K');
    const add = nodes.find((n) => n.opType === 'Add' && n.output![0] === 'y')!;
    expect(add.input).toEqual(['v_fp16', 'v_fp16']); // one Cast serves both uses
    expect(nodes.filter((n) => n.opType === 'Cast' && n.input![0] === 'v')).toHaveLength(1);
    // The model's own Cast(to=float) of the indices now casts to float16.
    expect(Number(nodes.find((n) => n.output![0] === 'ic')!.attribute![0].i)).toBe(FLOAT16);
    const [want, got] = [await runModel(src, { x }), await runModel(out, { x })];
    expect(maxDiff(want.z, got.z)).toBeLessThan(1e-2);
  });

  it('leaves an initializer that only blocked ops read in float32, without a Cast', async () => {
    const src = model(
      graph([node('Resize', ['x', '', 'scales'], ['r'], { mode: 'nearest' }), node('Relu', ['r'], ['y'])], [vi('x', FLOAT, [1, 1, 2, 2])], [vi('y', FLOAT, [1, 1, 4, 4])], [floats('scales', [4], [1, 1, 2, 2])]),
    );
    const out = convert(src);
    const m = decode(out);
    expect(m.graph!.initializer![0].dataType).toBe(FLOAT);
    expect(m.graph!.node!.find((n) => n.opType === 'Resize')!.input).toEqual(['x', '', 'scales']);
    const input = { dims: [1, 1, 2, 2], data: [1, -2, 3, 4] };
    expect((await runModel(out, { x: input })).y).toEqual((await runModel(src, { x: input })).y);
  });

  it('rewrites Constant value_float, ConstantOfShape without a value and Cast(to=float) to float16', async () => {
    const src = model(
      graph(
        [
          node('Constant', [], ['c'], { value_float: { float: 0.5 } }),
          node('Shape', ['x'], ['s']),
          node('ConstantOfShape', ['s'], ['zeros']),
          node('Cast', ['s'], ['sf'], { to: FLOAT }),
          node('Mul', ['x', 'c'], ['xc']),
          node('Add', ['xc', 'zeros'], ['xz']),
          node('ReduceSum', ['sf'], ['n'], { keepdims: 1 }),
          node('Add', ['xz', 'n'], ['y']),
        ],
        [vi('x', FLOAT, [2, 4])],
        [vi('y', FLOAT, [2, 4])],
      ),
    );
    const out = convert(src);
    const nodes = decode(out).graph!.node!;
    expect(nodes.find((n) => n.opType === 'Constant')!.attribute![0]).toMatchObject({ name: 'value', t: { dataType: FLOAT16 } });
    expect(nodes.find((n) => n.opType === 'ConstantOfShape')!.attribute![0]).toMatchObject({ name: 'value', t: { dataType: FLOAT16 } });
    expect(Number(nodes.find((n) => n.output![0] === 'sf')!.attribute![0].i)).toBe(FLOAT16);
    expect((await runModel(out, { x })).y).toEqual((await runModel(src, { x })).y);
  });

  it('converts If branches that read outer values, and Casts outer float32 values they read', async () => {
    const branch = (k: number) => graph([node('Mul', ['x', `k${k}`], [`o${k}`], {}, `mul${k}`)], [], [vi(`o${k}`, FLOAT, [2, 4])], [floats(`k${k}`, [1], [k])], `b${k}`);
    const src = model(
      graph(
        [node('ReduceSum', ['x'], ['s'], { keepdims: 0 }), node('Greater', ['s', 'zero'], ['cond']), node('If', ['cond'], ['y'], { then_branch: { graph: branch(2) }, else_branch: { graph: branch(3) } })],
        [vi('x', FLOAT, [2, 4])],
        [vi('y', FLOAT, [2, 4])],
        [floats('zero', [], [0])],
      ),
    );
    const out = convert(src);
    const m = decode(out);
    const iff = m.graph!.node!.find((n) => n.opType === 'If')!;
    for (const a of iff.attribute!) {
      expect(a.g!.initializer![0].dataType).toBe(FLOAT16);
      expect(a.g!.output![0].type!.tensorType!.elemType).toBe(FLOAT16);
      expect(a.g!.node![0].input![0]).toBe('x_fp16'); // the outer input, through its Cast
    }
    for (const sign of [1, -1]) {
      const feed = { x: { dims: x.dims, data: x.data.map((v) => v * sign) } };
      expect((await runModel(out, feed)).y).toEqual((await runModel(src, feed)).y);
    }
  });

  it('renames the producer of a graph output that other nodes also read', async () => {
    const src = model(graph([node('Mul', ['x', 'S'], ['y']), node('Add', ['y', 'y'], ['z'])], [vi('x', FLOAT, [2, 4])], [vi('y', FLOAT, [2, 4]), vi('z', FLOAT, [2, 4])], [floats('S', [1], [3])]));
    const out = convert(src);
    const nodes = decode(out).graph!.node!;
    expect(nodes.find((n) => n.opType === 'Mul')!.output).toEqual(['y_fp16']);
    expect(nodes.find((n) => n.opType === 'Add')!.input).toEqual(['y_fp16', 'y_fp16']);
    const [want, got] = [await runModel(src, { x }), await runModel(out, { x })];
    expect(got.y).toEqual(want.y);
    expect(got.z).toEqual(want.z);
  });

  it("clamps weights as onnxconverter-common does (min_positive_val, max_finite_val; 0, NaN and Inf kept)", () => {
    const values = [1e-9, -1e-9, 2e5, -2e5, 0, NaN, Infinity, -Infinity, 0.1];
    const src = model(graph([node('Add', ['x', 'W'], ['y'])], [vi('x', FLOAT, [9])], [vi('y', FLOAT, [9])], [floats('W', [9], values, true)]));
    const r = convertFloatToFloat16(src);
    expect(r.clamped).toBe(4);
    const t = decode(joinPieces(r.model)).graph!.initializer![0];
    const want = castFloat32ToFloat16(Float32Array.from([1e-7, -1e-7, 1e4, -1e4, 0, NaN, Infinity, -Infinity, 0.1]));
    expect(Buffer.from(t.rawData!)).toEqual(Buffer.from(want.buffer, want.byteOffset, want.byteLength));
    expect(t.floatData).toEqual([]);
  });

  it('uses the given block lists instead of the default one', () => {
    const nodes = decode(convert(linear(), { opBlockList: ['MatMul'] })).graph!.node!;
    expect(nodes.find((n) => n.opType === 'MatMul')!.input![0]).toBe('x'); // float32 input, no Cast needed
    const byName = decode(convert(linear(), { opBlockList: [], nodeBlockList: ['Add_y'] })).graph!.node!;
    expect(byName.find((n) => n.opType === 'Add')!.input).toEqual(['xw_fp32', 'B']);
    expect(DEFAULT_OP_BLOCK_LIST).toContain('Resize');
  });

  it('refuses a value that crosses a precision boundary when its type cannot be told', () => {
    const src = model(graph([node('Identity', ['x'], ['i']), node('TopK', ['i', 'K'], ['v', 'k'])], [vi('x', undefined)], [vi('v', FLOAT, [2])], [int64s('K', [1], [2])]));
    expect(() => convertFloatToFloat16(src, { keepIoTypes: false })).toThrow(/cannot tell the element type of input "i" of node "TopK_v"/);
  });

  it('gives ERR_CORRUPT for bytes that are not a model', () => {
    expect(() => convertFloatToFloat16(Buffer.from('not a model at all'))).toThrow(CacheError);
    try {
      convertFloatToFloat16(Buffer.from([0x3a, 0xff, 0xff, 0x01]));
    } catch (err) {
      expect((err as CacheError).code).toBe('ERR_CORRUPT');
    }
  });
});
