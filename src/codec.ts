// The compressed, checksummed frame every stored value is wrapped in (see native/core/codec.h).
import { type BytesLike, toBytes } from './bytes.js';
import { checkInteger, checkOptionNames, invalidType, rethrowNative } from './errors.js';
import { native } from './native.js';

/** Compression codec of a frame. */
export type Codec = 'zstd' | 'lz4' | 'none';

/** Options of {@link compress}. */
export interface CompressOptions {
  /** Default `'zstd'`. */
  codec?: Codec;
  /** zstd: -7..22 (default 3); lz4: 1..12, 1-2 fast, 3+ high compression (default 1). Ignored for none. */
  level?: number;
  /**
   * Byte-shuffle filter element size: 4 for float32/int32, 2 for float16, 8 for float64/int64.
   * 1 (default) turns the filter off. Shuffling groups the bytes of each element by significance,
   * which is what makes float tensors compress.
   */
  elementSize?: number;
  /** Raw bytes per independently compressed chunk (default 1 MiB); chunks run in parallel. */
  chunkSize?: number;
}

/** What a frame's header says about it (see {@link inspectFrame}); nothing is decompressed to learn it. */
export interface FrameInfo {
  /** The codec the chunks were compressed with (`'none'`: stored as is). */
  codec: Codec;
  /** Byte-shuffle element size the frame was written with; 1 means the filter is off. */
  elementSize: number;
  /** Length in bytes of the data once decompressed: what {@link decompress} returns. */
  rawLength: number;
  /** Raw bytes per chunk (the last one may be shorter); with the filter on, a whole number of elements. */
  chunkSize: number;
  /** Number of independently compressed chunks (0 for empty data). */
  chunkCount: number;
}

const CODECS: Record<Codec, number> = { none: 0, zstd: 1, lz4: 2 };
const CODEC_NAMES: Codec[] = ['none', 'zstd', 'lz4'];
const OPTION_NAMES = ['codec', 'level', 'elementSize', 'chunkSize'] as const;

type NativeArgs = [codec: number, level: number, elementSize: number, chunkSize: number];

function nativeArgs(options: CompressOptions): NativeArgs {
  if (options === null || typeof options !== 'object') throw invalidType('options', 'object', options);
  checkOptionNames('compress options', options, OPTION_NAMES);
  const codec = options.codec ?? 'zstd';
  if (!(codec in CODECS)) throw invalidType('options.codec', "'zstd', 'lz4' or 'none'", codec);
  let level = 0;
  if (options.level !== undefined && codec !== 'none') {
    level = codec === 'zstd' ? checkInteger('options.level', options.level, -7, 22) : checkInteger('options.level', options.level, 1, 12);
  }
  const elementSize = options.elementSize === undefined ? 1 : checkInteger('options.elementSize', options.elementSize, 1, 255);
  const chunkSize = options.chunkSize === undefined ? 1 << 20 : checkInteger('options.chunkSize', options.chunkSize, 1, 1 << 30);
  return [CODECS[codec], level, elementSize, chunkSize];
}

/**
 * Compresses `data` into a self-describing frame (codec, filter, chunk table, XXH3-64 checksum).
 *
 * @example
 * const frame = compress(new Float32Array(weights), { codec: 'zstd', level: 1, elementSize: 4 });
 * const back = new Float32Array(decompress(frame).buffer);
 */
export function compress(data: BytesLike, options: CompressOptions = {}): Buffer {
  const args = nativeArgs(options);
  try {
    return native.compress(toBytes('data', data), ...args);
  } catch (err) {
    rethrowNative(err, 'compress');
  }
}

/** {@link compress} on the libuv pool; `data` must not be modified until the promise settles. */
export async function compressAsync(data: BytesLike, options: CompressOptions = {}): Promise<Buffer> {
  const args = nativeArgs(options);
  try {
    return await native.compressAsync(toBytes('data', data), ...args);
  } catch (err) {
    rethrowNative(err, 'compressAsync');
  }
}

/** Options of {@link decompress}. */
export interface DecompressOptions {
  /** Refuse frames that claim more raw bytes than this (default: the largest Buffer). */
  maxBytes?: number;
}

function maxRaw(options: DecompressOptions): number {
  if (options === null || typeof options !== 'object') throw invalidType('options', 'object', options);
  checkOptionNames('decompress options', options, ['maxBytes']);
  return options.maxBytes === undefined
    ? (globalThis as { Buffer?: { constants?: { MAX_LENGTH?: number } } }).Buffer?.constants?.MAX_LENGTH ?? 2 ** 32
    : checkInteger('options.maxBytes', options.maxBytes, 0, Number.MAX_SAFE_INTEGER);
}

/**
 * Decodes a frame made by {@link compress}. Damaged, truncated or foreign bytes throw a
 * {@link CacheError} with code `ERR_CORRUPT`; wrong data is never returned.
 */
export function decompress(frame: BytesLike, options: DecompressOptions = {}): Buffer {
  const limit = maxRaw(options);
  try {
    return native.decompress(toBytes('frame', frame), limit);
  } catch (err) {
    rethrowNative(err, 'decompress');
  }
}

/** {@link decompress} on the libuv pool. */
export async function decompressAsync(frame: BytesLike, options: DecompressOptions = {}): Promise<Buffer> {
  const limit = maxRaw(options);
  try {
    return await native.decompressAsync(toBytes('frame', frame), limit);
  } catch (err) {
    rethrowNative(err, 'decompressAsync');
  }
}

/** Reads and validates a frame's header and chunk table without decoding it. */
export function inspectFrame(frame: BytesLike): FrameInfo {
  try {
    const f = native.inspectFrame(toBytes('frame', frame));
    return {
      codec: CODEC_NAMES[f.codec] ?? 'none',
      elementSize: f.elementSize,
      rawLength: f.rawLength,
      chunkSize: f.chunkSize,
      chunkCount: f.chunkCount,
    };
  } catch (err) {
    rethrowNative(err, 'inspectFrame');
  }
}
