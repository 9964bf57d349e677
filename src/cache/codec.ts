// How a Cache turns raw values into what encoded tiers store and back: a codec frame (compression
// with the byte-shuffle filter), then the cipher, bound to the entry's namespace and key (its
// additional data: a value copied to another key fails to decrypt, a miss and never the other
// value). Frames are decoded only up to the largest value the caller holds: a frame claiming more
// is corrupt before anything is allocated. Small values are handled on this thread (no promise per
// entry on the hit path); large ones and callback ciphers off it.
import { checkCipher, decrypt, decryptAsync, encrypt, encryptAsync, type Cipher } from '../cipher.js';
import { compress, compressAsync, decompress, decompressAsync, type Codec } from '../codec.js';
import { checkInteger, checkOptionNames, invalidType } from '../errors.js';

/** How values are compressed before they reach an encoded tier. */
export interface CompressionOptions {
  /** Codec of the stored frames. Default `'zstd'`; `'lz4'` decodes faster and compresses less; `'none'` only checksums. */
  codec?: Codec;
  /**
   * Compression level, validated when the Cache is created (RangeError otherwise): zstd -7..22
   * (default 3), lz4 1..12 (default 1). Higher levels make puts slower, rarely reads.
   */
  level?: number;
  /** Default element size for the byte-shuffle filter (per put, `elementSize` overrides). */
  elementSize?: number;
}

const ASYNC_THRESHOLD = 1 << 20;

/** What a stored value is bound to: its namespace and key (the grammar has no NUL). */
export function entryAad(ns: string, key: string): Buffer {
  return Buffer.from(`modelcache entry\0${ns}\0${key}`, 'utf8');
}

/** What one file of a file entry is bound to: its entry and its name. */
export function fileAad(ns: string, key: string, name: string): Buffer {
  return Buffer.from(`modelcache file\0${ns}\0${key}\0${name}`, 'utf8');
}

export class ValueCodec {
  readonly codec: Codec;
  readonly level: number | undefined;
  readonly elementSize: number;
  readonly cipher: Cipher | undefined;
  /** The largest raw value a read decodes: a frame that claims more is corrupt. */
  readonly maxValueBytes: number;

  constructor(compression: Codec | CompressionOptions | false | undefined, encryption: unknown, maxValueBytes: number) {
    const c = parseCompression(compression);
    this.codec = c.codec;
    this.level = c.level;
    this.elementSize = c.elementSize;
    this.cipher = encryption === undefined ? undefined : checkCipher('options.encryption', encryption);
    this.maxValueBytes = maxValueBytes;
  }

  #options(elementSize: number) {
    return { codec: this.codec, elementSize, ...(this.level !== undefined ? { level: this.level } : {}) };
  }

  /** Whether the cipher is the caller's callbacks (which may be asynchronous). */
  get callbackCipher(): boolean {
    return this.cipher !== undefined && 'encrypt' in this.cipher;
  }

  /** Encodes `raw`, the value of `ns`/`key`: on this thread when small and the cipher built in; else off it. */
  encode(raw: Uint8Array, elementSize: number, ns: string, key: string): Buffer | Promise<Buffer> {
    if (raw.byteLength < ASYNC_THRESHOLD && !this.callbackCipher) return this.encodeSync(raw, elementSize, ns, key);
    return this.#encodeAsync(raw, elementSize, ns, key);
  }

  async #encodeAsync(raw: Uint8Array, elementSize: number, ns: string, key: string): Promise<Buffer> {
    const opts = this.#options(elementSize);
    const frame = raw.byteLength >= ASYNC_THRESHOLD ? await compressAsync(raw, opts) : compress(raw, opts);
    return this.cipher ? encryptAsync(frame, this.cipher, { aad: entryAad(ns, key) }) : frame;
  }

  /** Encodes on this thread (built-in ciphers only: callbacks may be asynchronous). */
  encodeSync(raw: Uint8Array, elementSize: number, ns: string, key: string): Buffer {
    const frame = compress(raw, this.#options(elementSize));
    return this.cipher ? encrypt(frame, this.cipher, { aad: entryAad(ns, key) }) : frame;
  }

  /** Small frames without callback encryption decode on this thread: no promise per entry. */
  decodesSync(stored: Buffer): boolean {
    return stored.byteLength < ASYNC_THRESHOLD && !this.callbackCipher;
  }

  /** Decodes what an encoded tier stored for `ns`/`key` (ERR_CORRUPT / ERR_DECRYPT when it is not that value). */
  decodeSync(stored: Buffer, ns: string, key: string): Buffer {
    return decompress(this.cipher ? decrypt(stored, this.cipher, { aad: entryAad(ns, key) }) : stored, { maxBytes: this.maxValueBytes });
  }

  async decode(stored: Buffer, ns: string, key: string): Promise<Buffer> {
    const big = stored.byteLength >= ASYNC_THRESHOLD;
    let frame = stored;
    if (this.cipher) {
      const aad = { aad: entryAad(ns, key) };
      frame = big || this.callbackCipher ? await decryptAsync(stored, this.cipher, aad) : decrypt(stored, this.cipher, aad);
    }
    const limit = { maxBytes: this.maxValueBytes };
    return big ? decompressAsync(frame, limit) : decompress(frame, limit);
  }
}

const COMPRESSION_RULE = "'zstd', 'lz4', 'none', false or { codec, level, elementSize }";

export function parseCompression(c: unknown): { codec: Codec; level?: number; elementSize: number } {
  if (c === undefined) return { codec: 'zstd', level: 3, elementSize: 1 };
  if (c === false) return { codec: 'none', elementSize: 1 };
  if (typeof c === 'string') {
    if (c !== 'zstd' && c !== 'lz4' && c !== 'none') throw invalidType('options.compression', COMPRESSION_RULE, c);
    return { codec: c, elementSize: 1 };
  }
  if (c === null || typeof c !== 'object') throw invalidType('options.compression', COMPRESSION_RULE, c);
  checkOptionNames('options.compression', c, ['codec', 'level', 'elementSize']);
  const o = c as CompressionOptions;
  const codec = o.codec ?? 'zstd';
  if (codec !== 'zstd' && codec !== 'lz4' && codec !== 'none') throw invalidType('options.compression.codec', "'zstd', 'lz4' or 'none'", codec);
  // Validate the level once, here, with the same rules compress() applies.
  compress(Buffer.alloc(0), { codec, ...(o.level !== undefined ? { level: o.level } : {}) });
  const elementSize = o.elementSize === undefined ? 1 : checkInteger('options.compression.elementSize', o.elementSize, 1, 255);
  return { codec, ...(o.level !== undefined ? { level: o.level } : {}), elementSize };
}
