// float32 -> float16 conversion of a whole model, as onnxconverter-common's
// convert_float_to_float16 does it: float weights (initializers, Constant and attribute tensors)
// become float16 with the same clamping (|x| below min_positive_val or above max_finite_val is
// clamped, 0/NaN/Inf kept), Cast(to=float) becomes Cast(to=float16), nodes whose op type is in a
// block list (or whose name is in a node block list) keep computing in float32, and graph inputs
// and outputs can stay float32. Where a float value crosses between a float16 and a float32
// region a Cast is inserted: one per value and direction, right after the value is defined.
// Unlike the reference it types every value itself (./types.ts) instead of relying on shape
// inference, renames every consumer of a value it casts, and refuses to guess: a boundary value
// whose type it cannot tell is an error naming the node.
import { castFloat32ToFloat16 } from '../cast.js';
import { CacheError } from '../errors.js';
import { DataType, floatAt, readModel, type GraphView, type NodeView, type ValueInfoView } from './graph.js';
import { editGraph, editNode, editValueInfo, intAttribute, newNode, newTensor, renameTensor, replaceItems, retypeTensor, tensorAttribute, type GraphEdits } from './edit.js';
import { TensorField, type TensorRef } from './tensor.js';
import { inferTypes, type TypeMap } from './types.js';
import { corrupt, fields, PieceWriter, Wire, type Pieces } from './wire.js';

/** onnxconverter-common's DEFAULT_OP_BLOCK_LIST: ops kept in float32 by default. */
export const DEFAULT_OP_BLOCK_LIST: readonly string[] = [
  'ArrayFeatureExtractor', 'Binarizer', 'CastMap', 'CategoryMapper', 'DictVectorizer', 'FeatureVectorizer', 'Imputer',
  'LabelEncoder', 'LinearClassifier', 'LinearRegressor', 'Normalizer', 'OneHotEncoder', 'RandomUniformLike',
  'SVMClassifier', 'SVMRegressor', 'Scaler', 'TreeEnsembleClassifier', 'TreeEnsembleRegressor', 'ZipMap',
  'NonMaxSuppression', 'TopK', 'RoiAlign', 'Resize', 'Range', 'CumSum', 'Min', 'Max', 'Upsample',
];

export interface Float16Options {
  /** Graph inputs and outputs stay float32 (Casts at the edges). Default true. */
  keepIoTypes?: boolean;
  /** Op types computed in float32. Default {@link DEFAULT_OP_BLOCK_LIST}. */
  opBlockList?: readonly string[];
  /** Node names computed in float32. Default none. */
  nodeBlockList?: readonly string[];
  /** Non-zero magnitudes below this become it. Default 1e-7. */
  minPositiveVal?: number;
  /** Finite magnitudes above this become it. Default 1e4. */
  maxFiniteVal?: number;
}

/** Access to the external data of the model being converted. */
export interface ExternalData {
  /** The bytes of an external tensor. */
  read(t: TensorRef): Uint8Array;
  /** Stores (new) bytes of an external tensor; returns its new external_data entries. */
  write(t: TensorRef, bytes: Uint8Array): Record<string, string>;
}

export interface Float16Result {
  model: Pieces;
  /** Tensors converted to float16. */
  tensors: number;
  /** Values clamped to min_positive_val / max_finite_val. */
  clamped: number;
  /** Cast nodes inserted. */
  casts: number;
}

type Prec = 16 | 32;

interface Def {
  orig: string;
  /** Current name (differs from orig when a top-level output had to be renamed). */
  name: string;
  graph: GraphView;
  kind: 'input' | 'initializer' | 'node';
  /** Precision the value has after conversion; undefined until decided (initializers, Constants). */
  home?: Prec;
  node?: NodeView;
  tensor?: TensorRef;
  /** Cast outputs by target precision. */
  casts: Map<Prec, string>;
}

interface Site {
  name: string;
  graph: GraphView;
  want: Prec;
  /** The consuming node, or undefined for a graph output. */
  node?: NodeView;
  /** A graph output of the main graph. */
  topOutput?: boolean;
  /** What the site reads after conversion. */
  newName?: string;
}

class Converter {
  readonly buf: Uint8Array;
  readonly types: TypeMap;
  readonly keepIo: boolean;
  readonly opBlock: Set<string>;
  readonly nodeBlock: Set<string>;
  readonly functions: Set<string>;
  readonly min: number;
  readonly max: number;
  readonly external: ExternalData | undefined;
  readonly defs = new Map<string, Def>();
  readonly sites: Site[] = [];
  readonly converted = new Set<GraphView>();
  readonly used = new Set<string>();
  readonly top: GraphView;
  readonly graphField: { start: number; end: number };
  readonly stats = { tensors: 0, clamped: 0, casts: 0 };

  constructor(buf: Uint8Array, opts: Float16Options, external: ExternalData | undefined) {
    const model = readModel(buf);
    this.buf = buf;
    this.types = inferTypes(model);
    this.keepIo = opts.keepIoTypes ?? true;
    this.opBlock = new Set(opts.opBlockList ?? DEFAULT_OP_BLOCK_LIST);
    this.nodeBlock = new Set(opts.nodeBlockList ?? []);
    this.functions = model.functions;
    this.min = opts.minPositiveVal ?? 1e-7;
    this.max = opts.maxFiniteVal ?? 1e4;
    this.external = external;
    this.collect(model.graph, true, true);
    for (const s of this.sites) this.used.add(s.name);
    this.top = model.graph;
    this.graphField = model.graphField;
  }

  blocked(n: NodeView): boolean {
    return this.opBlock.has(n.opType) || this.nodeBlock.has(n.name) || this.functions.has(`${n.domain}:${n.opType}`);
  }

  isFloat(name: string): boolean {
    return this.types.get(name) === DataType.FLOAT;
  }

  define(d: Omit<Def, 'name' | 'casts'>): void {
    const existing = this.defs.get(d.orig);
    // A graph input with an initializer of the same name (IR < 4): the input defines it.
    if (existing && existing.kind === 'input' && d.kind === 'initializer' && existing.graph === d.graph) {
      existing.tensor = d.tensor;
      return;
    }
    if (existing) throw new CacheError('ERR_BAD_INPUT', `float16 conversion: value ${JSON.stringify(d.orig)} is defined twice; names must be unique across the model and its subgraphs`);
    this.defs.set(d.orig, { ...d, name: d.orig, casts: new Map() });
  }

  /** Records definitions and uses; `conv`: the graph is converted (not under a blocked node). */
  collect(g: GraphView, conv: boolean, top: boolean): void {
    if (conv) this.converted.add(g);
    const p32 = (x: boolean): Prec => (x ? 32 : 16);
    for (const v of g.inputs) this.define({ orig: v.name, graph: g, kind: 'input', home: !conv || (top && this.keepIo) ? 32 : 16 });
    for (const t of g.initializers) this.define({ orig: t.name, graph: g, kind: 'initializer', tensor: t, ...(conv ? {} : { home: 32 as Prec }) });
    for (const n of g.nodes) {
      const blocked = !conv || this.blocked(n);
      for (const name of n.inputs) if (name) this.sites.push({ name, graph: g, want: p32(blocked), node: n });
      for (const a of n.attributes) for (const sub of a.g ? [a.g, ...a.graphs] : a.graphs) this.collect(sub, !blocked, false);
      const flexible = !blocked && n.opType === 'Constant' && (n.domain === '' || n.domain === 'ai.onnx');
      for (const name of n.outputs) if (name) this.define({ orig: name, graph: g, kind: 'node', node: n, ...(flexible ? {} : { home: p32(blocked) }) });
      this.used.add(n.name);
    }
    for (const v of g.outputs) this.sites.push({ name: v.name, graph: g, want: !conv || (top && this.keepIo) ? 32 : 16, topOutput: top });
    for (const name of this.defs.keys()) this.used.add(name);
  }

  fresh(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  /** Decides every precision and where Casts go. */
  plan(): void {
    const wanted16 = new Set(this.sites.filter((s) => s.want === 16).map((s) => s.name));
    for (const d of this.defs.values()) d.home ??= this.isFloat(d.orig) && wanted16.has(d.orig) ? 16 : 32;
    // Top-level outputs first: when one must change precision, its producer is renamed and the Cast takes its name.
    const ordered = [...this.sites.filter((s) => s.topOutput), ...this.sites.filter((s) => !s.topOutput)];
    for (const s of ordered) {
      const d = this.defs.get(s.name);
      if (!d || d.home === s.want) continue;
      if (!this.isFloat(s.name)) {
        if (this.types.get(s.name) !== undefined || !this.converted.has(d.graph)) continue;
        const where = s.node ? `input ${JSON.stringify(s.name)} of node ${JSON.stringify(s.node.name)} (${s.node.opType})` : `graph output ${JSON.stringify(s.name)}`;
        throw new CacheError('ERR_BAD_INPUT', `float16 conversion: cannot tell the element type of ${where}, which crosses between float16 and float32 nodes; add its producer to node_block_list or remove the op from op_block_list`);
      }
      if (s.topOutput) {
        if (d.kind === 'input') continue; // same rule for top inputs and outputs: never differs
        d.name = this.fresh(`${d.orig}_fp${d.home}`);
        d.casts.set(s.want, d.orig);
        this.stats.casts++;
        continue;
      }
      let cast = d.casts.get(s.want);
      if (!cast) {
        cast = this.fresh(`${d.orig}_fp${s.want}`);
        d.casts.set(s.want, cast);
        this.stats.casts++;
      }
      s.newName = cast;
    }
    for (const s of this.sites) {
      const d = this.defs.get(s.name);
      if (!s.newName && d && d.name !== d.orig && !s.topOutput) s.newName = d.name;
    }
  }

  castNodes(d: Def): Pieces[] {
    return [...d.casts].map(([prec, out]) =>
      newNode('Cast', [d.name], [out], this.fresh(`${out}_Cast`), [intAttribute('to', prec === 16 ? DataType.FLOAT16 : DataType.FLOAT)]),
    );
  }

  /** float32 values of a tensor (a copy), from raw_data, float_data or external data. */
  floats(t: TensorRef): Float32Array {
    let bytes: Uint8Array | undefined;
    if (t.external) {
      if (!this.external) throw new CacheError('ERR_BAD_INPUT', `float16 conversion: tensor ${JSON.stringify(t.name)} has external data but none was given`);
      bytes = this.external.read(t);
    } else if (t.raw) bytes = this.buf.subarray(t.raw.offset, t.raw.offset + t.raw.length);
    if (bytes) {
      if (bytes.byteLength % 4 !== 0) corrupt(`float tensor ${JSON.stringify(t.name)} has ${bytes.byteLength} bytes, not a multiple of 4`);
      const out = new Float32Array(bytes.byteLength / 4);
      new Uint8Array(out.buffer).set(bytes);
      return out;
    }
    const values: number[] = [];
    for (const f of fields(this.buf, t.start, t.end)) {
      if (f.no !== TensorField.floatData) continue;
      if (f.wire === Wire.Fixed32) values.push(floatAt(this.buf, f.start));
      else if (f.wire === Wire.Bytes && (f.end - f.start) % 4 === 0) for (let p = f.start; p < f.end; p += 4) values.push(floatAt(this.buf, p));
      else corrupt(`float_data of tensor ${JSON.stringify(t.name)} is malformed`);
    }
    return Float32Array.from(values);
  }

  /** float16 bits of `values`, clamped as convert_np_to_float16 does. */
  half(values: Float32Array): Uint8Array {
    for (let i = 0; i < values.length; i++) {
      const x = values[i];
      const a = Math.abs(x);
      if (a > 0 && a < this.min) values[i] = Math.sign(x) * this.min;
      else if (a > this.max && a !== Infinity) values[i] = Math.sign(x) * this.max;
      else continue;
      this.stats.clamped++;
    }
    const h = castFloat32ToFloat16(values);
    return new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
  }

  /** `t` as float16 (optionally renamed). */
  convertTensor(t: TensorRef, name?: string): Pieces {
    const raw = this.half(this.floats(t));
    this.stats.tensors++;
    return retypeTensor(this.buf, t, DataType.FLOAT16, t.external ? { external: this.external!.write(t, raw) } : { raw }, name);
  }

  /** A node's attributes as they must be in a float16 region (index -> replacement). */
  editAttributes(n: NodeView): { attributes: Map<number, Pieces | null>; add: Pieces[] } {
    const attributes = new Map<number, Pieces | null>();
    const add: Pieces[] = [];
    const isConstant = n.opType === 'Constant';
    if (isConstant && this.defs.get(n.outputs[0])?.home !== 16) return { attributes, add };
    n.attributes.forEach((a, k) => {
      if (isConstant && (a.name === 'value_float' || a.name === 'value_floats')) {
        const values = Float32Array.from(a.name === 'value_float' ? [floatAt(this.buf, a.fAt ?? corrupt('value_float without f'))] : a.floatsAt.map((p) => floatAt(this.buf, p)));
        attributes.set(k, tensorAttribute('value', newTensor(DataType.FLOAT16, a.name === 'value_float' ? [] : [values.length], this.half(values))));
        this.stats.tensors++;
        return;
      }
      const changes = new Map<number, Pieces>();
      for (const t of a.t ? [a.t, ...a.tensors] : a.tensors) if (t.dataType === DataType.FLOAT) changes.set(t.start, this.convertTensor(t));
      for (const sub of a.g ? [a.g, ...a.graphs] : a.graphs) {
        const p = this.graph(sub, false);
        if (p) changes.set(sub.start, p);
      }
      const typeAttr = (n.opType === 'Cast' && a.name === 'to') || (a.name === 'dtype' && /^(Random(Normal|Uniform)(Like)?|EyeLike|Bernoulli)$/.test(n.opType));
      if (typeAttr && a.i === DataType.FLOAT) attributes.set(k, intAttribute(a.name, DataType.FLOAT16));
      else if (changes.size > 0) attributes.set(k, replaceItems(this.buf, a.start, a.end, changes)!);
    });
    const has = (name: string) => n.attributes.some((a) => a.name === name);
    if ((n.opType === 'RandomNormal' || n.opType === 'RandomUniform') && !has('dtype')) add.push(intAttribute('dtype', DataType.FLOAT16));
    if (n.opType === 'ConstantOfShape' && !has('value')) add.push(tensorAttribute('value', newTensor(DataType.FLOAT16, [1], new Uint8Array(2))));
    return { attributes, add };
  }

  /** Subgraphs of a blocked node: only references to converted values change. */
  untouchedAttributes(n: NodeView): Map<number, Pieces | null> {
    const attributes = new Map<number, Pieces | null>();
    n.attributes.forEach((a, k) => {
      const changes = new Map<number, Pieces>();
      for (const sub of a.g ? [a.g, ...a.graphs] : a.graphs) {
        const p = this.graph(sub, false);
        if (p) changes.set(sub.start, p);
      }
      if (changes.size > 0) attributes.set(k, replaceItems(this.buf, a.start, a.end, changes)!);
    });
    return attributes;
  }

  /** The rewritten GraphProto payload (undefined when unchanged). */
  graph(g: GraphView, top: boolean): Pieces | undefined {
    const conv = this.converted.has(g);
    const edits: GraphEdits = new Map();
    const prepend: Pieces[] = [];
    const sitesOf = new Map<NodeView | undefined, Site[]>();
    for (const s of this.sites) if (s.graph === g) sitesOf.set(s.node, [...(sitesOf.get(s.node) ?? []), s]);
    const retype16 = (v: ValueInfoView) => conv && (!top || !this.keepIo) && v.elemType === DataType.FLOAT;

    for (const v of g.inputs) {
      const p = editValueInfo(this.buf, v, undefined, retype16(v) ? { from: DataType.FLOAT, to: DataType.FLOAT16 } : undefined);
      if (p) edits.set(v.start, [p]);
      const d = this.defs.get(v.name);
      if (d?.graph === g) prepend.push(...this.castNodes(d));
    }
    for (const t of g.initializers) {
      const d = this.defs.get(t.name);
      if (!d || d.graph !== g) continue;
      const rename = d.name !== d.orig ? d.name : undefined;
      if (conv && d.home === 16 && t.dataType === DataType.FLOAT) edits.set(t.start, [this.convertTensor(t, rename)]);
      else if (rename) edits.set(t.start, [renameTensor(this.buf, t, rename)]);
      if (d.kind === 'initializer') prepend.push(...this.castNodes(d));
    }
    for (const n of g.nodes) {
      const mine = sitesOf.get(n) ?? [];
      const inputs = mine.some((s) => s.newName) ? remap(n.inputs, mine) : undefined;
      const renamed = n.outputs.map((o) => this.defs.get(o)?.name ?? o);
      const outputs = renamed.some((o, i) => o !== n.outputs[i]) ? renamed : undefined;
      const { attributes, add } = conv && !this.blocked(n) ? this.editAttributes(n) : { attributes: this.untouchedAttributes(n), add: [] };
      const node = editNode(this.buf, n, { inputs, outputs, attributes, addAttributes: add });
      const casts = n.outputs.flatMap((o) => (this.defs.get(o)?.node === n ? this.castNodes(this.defs.get(o)!) : []));
      if (node || casts.length > 0) edits.set(n.start, [node ?? this.buf.subarray(n.start, n.end), ...casts].map(asPieces));
    }
    const outSites = sitesOf.get(undefined) ?? [];
    g.outputs.forEach((v, i) => {
      const s = outSites[i];
      const p = editValueInfo(this.buf, v, s?.newName, retype16(v) ? { from: DataType.FLOAT, to: DataType.FLOAT16 } : undefined);
      if (p) edits.set(v.start, [p]);
    });
    if (conv) {
      for (const v of g.valueInfo) {
        const d = this.defs.get(v.name);
        const now16 = d && this.isFloat(v.name) && (d.name === d.orig ? d.home === 16 : d.casts.get(16) === v.name);
        const p = now16 ? editValueInfo(this.buf, v, undefined, { from: DataType.FLOAT, to: DataType.FLOAT16 }) : undefined;
        if (p) edits.set(v.start, [p]);
      }
    }
    return editGraph(this.buf, g.start, g.end, edits, prepend);
  }

  run(): Pieces {
    this.plan();
    const graph = this.graph(this.top, true);
    if (!graph) return { parts: [this.buf], length: this.buf.byteLength };
    return replaceItems(this.buf, 0, this.buf.byteLength, new Map([[this.graphField.start, graph]]))!;
  }
}

function remap(inputs: readonly string[], sites: readonly Site[]): string[] {
  const out = [...inputs];
  let k = 0;
  inputs.forEach((name, i) => {
    if (!name) return;
    const s = sites[k++];
    if (s?.newName) out[i] = s.newName;
  });
  return out;
}

function asPieces(p: Pieces | Uint8Array): Pieces {
  return p instanceof Uint8Array ? new PieceWriter().bytes(p).pieces() : p;
}

/**
 * Converts the serialized model `model` to float16 (see the module comment). `external` gives
 * access to external data when the model has any. Bad bytes give ERR_CORRUPT; a model that cannot
 * be converted safely (a duplicate name, an untypable boundary value) gives ERR_BAD_INPUT.
 */
export function convertFloatToFloat16(model: Uint8Array, options: Float16Options = {}, external?: ExternalData): Float16Result {
  const c = new Converter(model, options, external);
  const out = c.run();
  return { model: out, ...c.stats };
}
