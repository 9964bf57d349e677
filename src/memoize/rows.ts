// A call as tensorCache keys and replays it. Every argument is captured before the call yields:
// tensors (any dtype, strings included, positional or inside a feeds object) and arrays declared
// as rows are hashed per row and copied (numeric tensors only when a row may be computed: a call
// served whole from the memory tier copies nothing); every other argument is copied and encoded.
// Whatever the caller does to its buffers afterwards, the function receives exactly the bytes the
// keys were made of (DESIGN.md, "Keys").
import { asBuffer } from '../bytes.js';
import { described, invalidType } from '../errors.js';
import { hash, hashRows } from '../hash.js';
import { encodeValue } from '../keys.js';
import { captureValue } from '../keycopy.js';
import { bytesOf, isStringTensor, isTensorLike, makeTensor, rowLayout, tensorClassOf, viewAs, type RowLayout, type TensorCtor, type TensorLike } from '../tensor.js';
import { HINT_DEPENDS_ON } from './key.js';

const HINT_ARGUMENT = `pass the values it uses as arguments, or ${HINT_DEPENDS_ON}`;

/** Rows of one argument (or feeds member), captured: digests per row, sub-batches on demand. */
interface RowSource {
  path: string;
  batch: number;
  /** Where the batch size is read, for messages (`args[0].dims[0]`). */
  batchPath: string;
  /** Folded into the call's prefix: what kind of rows, of which dtype and row shape. */
  shape: unknown;
  /** 16 bytes per row. */
  digests: Uint8Array;
  /** A fresh value holding rows `rows`, in that order. */
  gather(rows: readonly number[]): unknown;
  /** Copies the caller's bytes now (numeric tensors, which are hashed in place): before the call yields. */
  capture?(): void;
  /** Gives back what the capture holds (once the call is over: `gather` must not run after). */
  release?(): void;
}

// Capture buffers are reused across calls: a fresh multi-megabyte buffer per call costs page
// faults and zeroing many times the copy itself (45 us against 2 us per 110 KiB image row).
// A buffer returns here only when its call has finished, and never reaches user code.
const POOL_MIN = 4096;
const POOL_MAX_BUFFERS = 8;
const POOL_MAX_BYTES = 64 << 20;
const pool: ArrayBuffer[] = [];

function acquire(n: number): Uint8Array {
  if (n < POOL_MIN) return new Uint8Array(n);
  let best = -1;
  for (let i = 0; i < pool.length; i++) {
    const size = pool[i].byteLength;
    if (size >= n && size <= 2 * n && (best < 0 || size < pool[best].byteLength)) best = i;
  }
  return new Uint8Array(best >= 0 ? pool.splice(best, 1)[0] : new ArrayBuffer(n), 0, n);
}

function release(b: Uint8Array): void {
  const ab = b.buffer as ArrayBuffer;
  if (ab.byteLength < POOL_MIN || pool.length >= POOL_MAX_BUFFERS) return;
  if (pool.reduce((t, x) => t + x.byteLength, ab.byteLength) > POOL_MAX_BYTES) return;
  pool.push(ab);
}

function digestOf(bytes: Uint8Array): Buffer {
  return Buffer.from(hash(bytes), 'hex');
}

/** A numeric or string tensor, split along dim 0. */
function tensorRows(path: string, t: TensorLike): RowSource & { ctor: TensorCtor | undefined } {
  const layout: RowLayout = rowLayout(path, t);
  const ctor = tensorClassOf(t);
  const { batch, rowDims, rowElems } = layout;
  const shape = ['tensor', layout.dtype, rowDims];
  if (isStringTensor(t)) {
    const data = Array.from(t.data);
    const digests = new Uint8Array(16 * batch);
    for (let i = 0; i < batch; i++) digests.set(digestOf(encodeValue(data.slice(i * rowElems, (i + 1) * rowElems), path)), 16 * i);
    const gather = (rows: readonly number[]) =>
      makeTensor(ctor, 'string', [rows.length, ...rowDims], rows.flatMap((r) => data.slice(r * rowElems, (r + 1) * rowElems)));
    return { path, batch, batchPath: `${path}.dims[0]`, shape, digests, gather, ctor };
  }
  const like = t.data;
  const { rowBytes } = layout;
  const src = bytesOf(like);
  const digests = rowBytes > 0 ? hashRows(src, rowBytes) : new Uint8Array(16 * batch);
  // The capture, a private copy of the rows: made before the call yields, unless every row is a
  // hit in the memory tier (then no row is ever given to the function, see CapturedCall.capture).
  let bytes: Uint8Array | undefined;
  const capture = () => {
    if (bytes) return;
    bytes = acquire(src.byteLength);
    bytes.set(src);
  };
  const gather = (rows: readonly number[]) => {
    if (!bytes) {
      // Not captured at call time: the caller's bytes serve only if they are still the ones hashed.
      if (rowBytes > 0 && !asBuffer(hashRows(src, rowBytes)).equals(asBuffer(digests))) {
        throw invalidType(path, 'a tensor left unchanged until the call resolves (its data changed while the call was pending)', described('a changed tensor'));
      }
      capture();
    }
    const captured = bytes!;
    const out = new Uint8Array(rows.length * rowBytes);
    rows.forEach((r, j) => out.set(captured.subarray(r * rowBytes, (r + 1) * rowBytes), j * rowBytes));
    return makeTensor(ctor, layout.dtype, [rows.length, ...rowDims], viewAs(out, layout.dtype, like));
  };
  return { path, batch, batchPath: `${path}.dims[0]`, shape, digests, gather, ctor, capture, release: () => bytes && release(bytes) };
}

/** A plain array declared batch-aligned (`rows` option): one canonical value per row. */
function arrayRows(path: string, a: readonly unknown[]): RowSource {
  const copies = new Array<unknown>(a.length);
  const digests = new Uint8Array(16 * a.length);
  for (let i = 0; i < a.length; i++) {
    const { copy, bytes } = captureValue(a[i], `${path}[${i}]`, { hint: HINT_ARGUMENT });
    copies[i] = copy;
    digests.set(digestOf(bytes), 16 * i);
  }
  // Objects are copied again for every sub-batch: the function may mutate what it receives.
  const fresh = (v: unknown) => (v !== null && typeof v === 'object' ? captureValue(v, path).copy : v);
  return { path, batch: a.length, batchPath: `${path}.length`, shape: ['array'], digests, gather: (rows) => rows.map((r) => fresh(copies[r])) };
}

/** How one argument (or feeds member) is rebuilt for a sub-batch. */
type Part =
  | { kind: 'value'; copy: unknown; bytes: Buffer }
  | { kind: 'rows'; source: RowSource }
  | { kind: 'feeds'; proto: object | null; members: [name: string, part: Part][] };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** A call, captured. */
export interface CapturedCall {
  batch: number;
  /** Per argument: its kind and what identifies it beyond its rows (the call's prefix). */
  shape: unknown[];
  /** Per row source, in argument order: 16-byte digests of its rows. */
  rowDigests: Uint8Array[];
  /** onnxruntime's Tensor class when an input tensor was one (to rebuild outputs read from disk). */
  tensorCtor: TensorCtor | undefined;
  /** Fresh arguments holding samples `rows` of the call, in that order. */
  argsFor(rows: readonly number[]): unknown[];
  /**
   * Copies every row source's bytes that were hashed in place (numeric tensors), so that the
   * function receives exactly the bytes its keys were made of. Call it before the call yields,
   * unless no row will be computed (every key a memory hit, known synchronously).
   */
  capture(): void;
  /** Ends the capture once the call is over (its buffers are reused): `argsFor` is then invalid. */
  release(): void;
}

/**
 * Captures `args`: tensors (positional, or members of a plain-object argument) and the arrays
 * named by `rows` (argument positions, or member names of a plain-object argument) are row
 * sources sharing one batch size; every other argument is a whole-call value. Throws a TypeError
 * naming the argument that cannot be keyed or does not fit the batch.
 */
export function captureCall(args: readonly unknown[], rows: ReadonlySet<number | string>): CapturedCall {
  const sources: RowSource[] = [];
  let tensorCtor: TensorCtor | undefined;
  const rowsOf = (path: string, v: unknown, declared: boolean): Part | undefined => {
    if (isTensorLike(v)) {
      const s = tensorRows(path, v);
      tensorCtor ??= s.ctor;
      sources.push(s);
      return { kind: 'rows', source: s };
    }
    if (!declared) return undefined;
    if (!Array.isArray(v)) throw invalidType(path, 'an array or a tensor (options.rows declares it batch-aligned)', v);
    const s = arrayRows(path, v);
    sources.push(s);
    return { kind: 'rows', source: s };
  };
  const valueOf = (path: string, v: unknown): Part => {
    const { copy, bytes } = captureValue(v, path, { hint: HINT_ARGUMENT });
    return { kind: 'value', copy, bytes };
  };
  const releaseAll = () => {
    for (const s of sources) s.release?.();
  };
  const partOf = (a: unknown, i: number): Part => {
    const path = `args[${i}]`;
    const asRows = rowsOf(path, a, rows.has(i));
    if (asRows) return asRows;
    if (isPlainObject(a) && Object.keys(a).some((k) => isTensorLike(a[k]) || rows.has(k))) {
      // A feeds object ({ input_ids, attention_mask }): its tensors are rows, named by member.
      // Sources are taken in sorted member order, the order of the shape: member order is not
      // part of a feeds object's meaning, and the digests must line up with the names.
      const byName = new Map<string, Part>();
      for (const k of Object.keys(a).sort()) byName.set(k, rowsOf(`${path}.${k}`, a[k], rows.has(k)) ?? valueOf(`${path}.${k}`, a[k]));
      // Rebuilt in the caller's member order.
      const members = Object.keys(a).map((k): [string, Part] => [k, byName.get(k)!]);
      return { kind: 'feeds', proto: Object.getPrototypeOf(a), members };
    }
    return valueOf(path, a);
  };
  let parts: Part[];
  try {
    parts = args.map(partOf);
    if (sources.length === 0) {
      throw invalidType('args', 'at least one tensor ({ type, dims, data }, batch along dim 0; positional or in a feeds object) or an array declared in options.rows', 'none');
    }
    for (const s of sources) {
      if (s.batch !== sources[0].batch) throw invalidType(s.batchPath, `the batch size ${sources[0].batch} of ${sources[0].path}`, s.batch);
    }
  } catch (err) {
    releaseAll();
    throw err;
  }
  const batch = sources[0].batch;
  const shapeOf = (p: Part): unknown => {
    if (p.kind === 'value') return ['value', p.bytes];
    if (p.kind === 'rows') return ['rows', p.source.shape];
    // Sorted by name: member order is not part of a feeds object's meaning.
    return ['feeds', [...p.members].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)).map(([k, m]) => [k, shapeOf(m)])];
  };
  const build = (p: Part, picked: readonly number[]): unknown => {
    if (p.kind === 'rows') return p.source.gather(picked);
    if (p.kind === 'value') return p.copy !== null && typeof p.copy === 'object' ? captureValue(p.copy, 'args').copy : p.copy;
    const o = Object.create(p.proto) as Record<string, unknown>;
    for (const [k, m] of p.members) o[k] = build(m, picked);
    return o;
  };
  return {
    batch,
    shape: parts.map(shapeOf),
    rowDigests: sources.map((s) => s.digests),
    tensorCtor,
    argsFor: (picked) => parts.map((p) => build(p, picked)),
    capture: () => {
      for (const s of sources) s.capture?.();
    },
    release: releaseAll,
  };
}
