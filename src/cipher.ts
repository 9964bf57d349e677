// Encryption of stored values: AES-256-GCM (through the OpenSSL inside Node), XOR obfuscation,
// or the caller's own { encrypt, decrypt } callbacks, as OpenVINO's cache accepts. Every cipher can
// bind a value to additional data (a cache's key and namespace) so that it never decrypts elsewhere.
import { createHash } from 'node:crypto';
import { asBuffer, type BytesLike, toBytes } from './bytes.js';
import { CacheError, checkOptionNames, invalidType, outOfRange, rethrowNative, secret } from './errors.js';
import { native } from './native.js';

/** A built-in cipher with its key. */
export interface CipherKey {
  /**
   * `'aes-256-gcm'`: authenticated encryption, key of 32 bytes (a Uint8Array, or 64 hex chars).
   * `'xor'`: obfuscation only — it hides bytes from casual inspection and gives NO security.
   */
  algorithm: 'aes-256-gcm' | 'xor';
  /**
   * The secret. For `'aes-256-gcm'`: exactly 32 bytes, or a string of 64 hex characters; for
   * `'xor'`: any non-empty bytes, or a string taken as UTF-8. Anything else is a TypeError or
   * RangeError (`code: 'ERR_BAD_INPUT'`) whose message never shows the key. Decrypting with another
   * key gives a {@link CacheError} `ERR_DECRYPT`.
   */
  key: Uint8Array | string;
}

/** What a value is bound to besides the key, handed to {@link CipherCallbacks}. */
export interface CipherContext {
  /** The additional authenticated data of this call ({@link CipherOptions.aad}); empty when none. */
  readonly aad: Buffer;
}

/**
 * Your own cipher: any pair of functions where `decrypt(encrypt(x, ctx), ctx)` gives back x.
 *
 * `context.aad` is what the value must stay bound to (a cache passes its key and namespace). An
 * authenticating cipher should bind it too, e.g. as the additional data of AES-GCM, so that a
 * value moved to another key fails to decrypt even when someone forged its bytes. Whatever the
 * callbacks do, modelcache appends a 20-byte digest of a non-empty aad to their output and checks
 * it before calling `decrypt`, so an entry copied to another key is `ERR_DECRYPT`, never wrong data.
 */
export interface CipherCallbacks {
  /**
   * Returns the ciphertext of `data` (which it must not keep or mutate). May return a promise
   * only where the async API is used ({@link encryptAsync}, a Cache); the synchronous
   * {@link encrypt} refuses a promise with a TypeError. Whatever it throws reaches the caller.
   */
  encrypt(data: Buffer, context: CipherContext): Uint8Array | Promise<Uint8Array>;
  /**
   * Returns the plaintext of what {@link CipherCallbacks.encrypt} made, given the same context.
   * It should throw when the bytes do not authenticate; a Cache then treats the value as a miss.
   * Same promise rule as `encrypt`.
   */
  decrypt(data: Buffer, context: CipherContext): Uint8Array | Promise<Uint8Array>;
}

/** What every API that encrypts accepts. */
export type Cipher = CipherKey | CipherCallbacks;

/** Options of {@link encrypt} and {@link decrypt}. */
export interface CipherOptions {
  /**
   * Additional authenticated data: bytes (a string is taken as UTF-8) that the value is bound to
   * without being stored in it. A value encrypted with one `aad` decrypts only with the same `aad`;
   * any other (or none) gives a {@link CacheError} `ERR_DECRYPT`, never another value. A cache
   * passes an unambiguous encoding of its namespace and key here. Default: empty.
   */
  aad?: Uint8Array | string;
}

const ALGORITHMS = { 'aes-256-gcm': 1, xor: 2 } as const;

// AES-256-GCM values from this size on go into the chunked envelope (native/core/cipher.h): 1 MiB
// chunks, each its own GCM message bound to its position, encrypted and decrypted in parallel.
const CHUNKED_FROM = 1 << 20;
const CHUNK_SIZE = 1 << 20;

function nativeEncrypt(bytes: Uint8Array, c: CipherKey, aad: Buffer): Buffer {
  const key = keyBytes('cipher', c);
  if (c.algorithm === 'aes-256-gcm' && bytes.byteLength >= CHUNKED_FROM) return native.encryptChunked(bytes, key, aad, CHUNK_SIZE);
  return native.encrypt(bytes, ALGORITHMS[c.algorithm], key, aad);
}

function nativeEncryptAsync(bytes: Uint8Array, c: CipherKey, aad: Buffer): Promise<Buffer> {
  const key = keyBytes('cipher', c);
  if (c.algorithm === 'aes-256-gcm' && bytes.byteLength >= CHUNKED_FROM) return native.encryptChunkedAsync(bytes, key, aad, CHUNK_SIZE);
  return native.encryptAsync(bytes, ALGORITHMS[c.algorithm], key, aad);
}

const EMPTY = Buffer.alloc(0);

function aadOf(options: CipherOptions | undefined): Buffer {
  if (options === undefined) return EMPTY;
  if (options === null || typeof options !== 'object') throw invalidType('options', '{ aad? }', options);
  checkOptionNames('cipher options', options, ['aad']);
  const { aad } = options;
  if (aad === undefined) return EMPTY;
  if (typeof aad !== 'string' && !(aad instanceof Uint8Array)) throw invalidType('options.aad', 'Uint8Array or string', aad);
  return asBuffer(toBytes('options.aad', aad));
}

// Callback output bound to a non-empty aad: output || "MCB" 1 || SHA-256("modelcache aad v2" || aad)[0..16).
const BOUND_MAGIC = Buffer.from('MCB\x01', 'latin1');
const BOUND_TRAILER = BOUND_MAGIC.length + 16;

function aadDigest(aad: Buffer): Buffer {
  return createHash('sha256').update('modelcache aad v2').update(aad).digest().subarray(0, 16);
}

function bindCallbackOutput(out: Buffer, aad: Buffer): Buffer {
  return aad.length === 0 ? out : Buffer.concat([out, BOUND_MAGIC, aadDigest(aad)]);
}

function unbindCallbackInput(data: Buffer, aad: Buffer): Buffer {
  if (aad.length === 0) return data;
  const body = data.length - BOUND_TRAILER;
  if (body < 0 || !data.subarray(body, body + BOUND_MAGIC.length).equals(BOUND_MAGIC)) {
    throw new CacheError('ERR_DECRYPT', 'decrypt: another context: the value was encrypted without an aad');
  }
  if (!data.subarray(body + BOUND_MAGIC.length).equals(aadDigest(aad))) {
    throw new CacheError('ERR_DECRYPT', 'decrypt: another context: the value was encrypted with another aad');
  }
  return data.subarray(0, body);
}

function isCallbacks(c: Cipher): c is CipherCallbacks {
  return typeof (c as CipherCallbacks).encrypt === 'function' || typeof (c as CipherCallbacks).decrypt === 'function';
}

/** Validates a cipher option once; `name` is how the caller's argument is called in messages. */
export function checkCipher(name: string, cipher: unknown): Cipher {
  if (cipher === null || typeof cipher !== 'object') {
    throw invalidType(name, '{ algorithm, key } or { encrypt, decrypt }', secret(cipher));
  }
  const c = cipher as Cipher;
  if (isCallbacks(c)) {
    if (typeof c.encrypt !== 'function') throw invalidType(`${name}.encrypt`, 'function', c.encrypt);
    if (typeof c.decrypt !== 'function') throw invalidType(`${name}.decrypt`, 'function', c.decrypt);
    return c;
  }
  checkOptionNames(name, c, ['algorithm', 'key']);
  if (!(c.algorithm in ALGORITHMS)) throw invalidType(`${name}.algorithm`, "'aes-256-gcm' or 'xor'", c.algorithm);
  keyBytes(name, c);
  return c;
}

function keyBytes(name: string, c: CipherKey): Uint8Array {
  let key: Uint8Array;
  if (typeof c.key === 'string') {
    if (c.algorithm === 'aes-256-gcm') {
      if (!/^[0-9a-fA-F]{64}$/.test(c.key)) throw invalidType(`${name}.key`, '32-byte Uint8Array or 64 hex characters', secret(c.key));
      key = Buffer.from(c.key, 'hex');
    } else {
      key = Buffer.from(c.key, 'utf8');
    }
  } else if (c.key instanceof Uint8Array) {
    key = c.key;
  } else {
    throw invalidType(`${name}.key`, 'Uint8Array or string', secret(c.key));
  }
  if (c.algorithm === 'aes-256-gcm' && key.byteLength !== 32) {
    throw outOfRange(`${name}.key`, 'a key of exactly 32 bytes for aes-256-gcm', `${key.byteLength} bytes`);
  }
  if (key.byteLength === 0) throw outOfRange(`${name}.key`, 'a non-empty key', '0 bytes');
  return key;
}

function checkCallbackResult(name: string, out: unknown): Buffer {
  if (!(out instanceof Uint8Array)) throw invalidType(`the result of ${name}`, 'Uint8Array', out);
  return asBuffer(out);
}

function syncResult(name: string, out: Uint8Array | Promise<Uint8Array>): Buffer {
  if (out instanceof Promise) {
    out.catch(() => {}); // refused below; its rejection is not the caller's to handle
    throw invalidType(name, `a synchronous function (use ${name.slice('cipher.'.length)}Async)`, out);
  }
  return checkCallbackResult(name, out);
}

/**
 * Encrypts `data`. With AES-256-GCM the result is an envelope (header with key id and random
 * 96-bit nonce, ciphertext, tag) whose header and `options.aad` are authenticated too; from 1 MiB
 * on it is chunked (1 MiB chunks, each with its own tag bound to its index, the chunk count, the
 * header and the aad), so that large values are encrypted and decrypted in parallel.
 * With callbacks, they must return synchronously here (use {@link encryptAsync} otherwise).
 */
export function encrypt(data: BytesLike, cipher: Cipher, options?: CipherOptions): Buffer {
  const c = checkCipher('cipher', cipher);
  const bytes = toBytes('data', data);
  const aad = aadOf(options);
  if (isCallbacks(c)) return bindCallbackOutput(syncResult('cipher.encrypt', c.encrypt(asBuffer(bytes), { aad })), aad);
  try {
    return nativeEncrypt(bytes, c, aad);
  } catch (err) {
    rethrowNative(err, 'encrypt');
  }
}

/**
 * Decrypts an envelope from {@link encrypt}, given the same `options.aad`. A different key gives a
 * CacheError `ERR_DECRYPT` ("wrong key"); any changed byte or another aad gives `ERR_DECRYPT`
 * ("authentication failed", "another context"); bytes that are no envelope give `ERR_CORRUPT`.
 */
export function decrypt(data: BytesLike, cipher: Cipher, options?: CipherOptions): Buffer {
  const c = checkCipher('cipher', cipher);
  const bytes = toBytes('data', data);
  const aad = aadOf(options);
  if (isCallbacks(c)) return syncResult('cipher.decrypt', c.decrypt(unbindCallbackInput(asBuffer(bytes), aad), { aad }));
  try {
    return native.decrypt(bytes, ALGORITHMS[c.algorithm], keyBytes('cipher', c), aad);
  } catch (err) {
    rethrowNative(err, 'decrypt');
  }
}

/** {@link encrypt} on the libuv pool; callbacks may return promises. */
export async function encryptAsync(data: BytesLike, cipher: Cipher, options?: CipherOptions): Promise<Buffer> {
  const c = checkCipher('cipher', cipher);
  const bytes = toBytes('data', data);
  const aad = aadOf(options);
  if (isCallbacks(c)) return bindCallbackOutput(checkCallbackResult('cipher.encrypt', await c.encrypt(asBuffer(bytes), { aad })), aad);
  try {
    return await nativeEncryptAsync(bytes, c, aad);
  } catch (err) {
    rethrowNative(err, 'encryptAsync');
  }
}

/** {@link decrypt} on the libuv pool; callbacks may return promises. */
export async function decryptAsync(data: BytesLike, cipher: Cipher, options?: CipherOptions): Promise<Buffer> {
  const c = checkCipher('cipher', cipher);
  const bytes = toBytes('data', data);
  const aad = aadOf(options);
  if (isCallbacks(c)) return checkCallbackResult('cipher.decrypt', await c.decrypt(unbindCallbackInput(asBuffer(bytes), aad), { aad }));
  try {
    return await native.decryptAsync(bytes, ALGORITHMS[c.algorithm], keyBytes('cipher', c), aad);
  } catch (err) {
    rethrowNative(err, 'decryptAsync');
  }
}
