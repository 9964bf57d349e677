// Encryption of stored values: AES-256-GCM (through the OpenSSL inside Node), XOR obfuscation,
// or the caller's own { encrypt, decrypt } callbacks, as OpenVINO's cache accepts.
import { type BytesLike, toBytes } from './bytes.js';
import { checkOptionNames, invalidType, outOfRange, rethrowNative } from './errors.js';
import { native } from './native.js';

/** A built-in cipher with its key. */
export interface CipherKey {
  /**
   * `'aes-256-gcm'`: authenticated encryption, key of 32 bytes (a Uint8Array, or 64 hex chars).
   * `'xor'`: obfuscation only — it hides bytes from casual inspection and gives NO security.
   */
  algorithm: 'aes-256-gcm' | 'xor';
  key: Uint8Array | string;
}

/** Your own cipher: any pair of functions where `decrypt(encrypt(x))` gives back x. */
export interface CipherCallbacks {
  encrypt(data: Buffer): Uint8Array | Promise<Uint8Array>;
  decrypt(data: Buffer): Uint8Array | Promise<Uint8Array>;
}

/** What every API that encrypts accepts. */
export type Cipher = CipherKey | CipherCallbacks;

const ALGORITHMS = { 'aes-256-gcm': 1, xor: 2 } as const;

function isCallbacks(c: Cipher): c is CipherCallbacks {
  return typeof (c as CipherCallbacks).encrypt === 'function' || typeof (c as CipherCallbacks).decrypt === 'function';
}

/** Validates a cipher option once; `name` is how the caller's argument is called in messages. */
export function checkCipher(name: string, cipher: unknown): Cipher {
  if (cipher === null || typeof cipher !== 'object') throw invalidType(name, '{ algorithm, key } or { encrypt, decrypt }', cipher);
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
      if (!/^[0-9a-fA-F]{64}$/.test(c.key)) throw invalidType(`${name}.key`, '32-byte Uint8Array or 64 hex characters', c.key);
      key = Buffer.from(c.key, 'hex');
    } else {
      key = Buffer.from(c.key, 'utf8');
    }
  } else if (c.key instanceof Uint8Array) {
    key = c.key;
  } else {
    throw invalidType(`${name}.key`, 'Uint8Array or string', c.key);
  }
  if (c.algorithm === 'aes-256-gcm' && key.byteLength !== 32) {
    throw outOfRange(`${name}.key`, 'a key of exactly 32 bytes for aes-256-gcm', `${key.byteLength} bytes`);
  }
  if (key.byteLength === 0) throw outOfRange(`${name}.key`, 'a non-empty key', '0 bytes');
  return key;
}

function toBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

function checkCallbackResult(name: string, out: unknown): Buffer {
  if (!(out instanceof Uint8Array)) throw invalidType(`the result of ${name}`, 'Uint8Array', out);
  return toBuffer(out);
}

/**
 * Encrypts `data`. With AES-256-GCM the result is an envelope (header with key id and random
 * 96-bit nonce, ciphertext, tag) whose header is authenticated too.
 * With callbacks, they must return synchronously here (use {@link encryptAsync} otherwise).
 */
export function encrypt(data: BytesLike, cipher: Cipher): Buffer {
  const c = checkCipher('cipher', cipher);
  const bytes = toBytes('data', data);
  if (isCallbacks(c)) {
    const out = c.encrypt(toBuffer(bytes));
    if (out instanceof Promise) throw invalidType('cipher.encrypt', 'a synchronous function (use encryptAsync)', out);
    return checkCallbackResult('cipher.encrypt', out);
  }
  try {
    return native.encrypt(bytes, ALGORITHMS[c.algorithm], keyBytes('cipher', c));
  } catch (err) {
    rethrowNative(err, 'encrypt');
  }
}

/**
 * Decrypts an envelope from {@link encrypt}. A different key gives a CacheError `ERR_DECRYPT`
 * ("wrong key"); any changed byte gives `ERR_DECRYPT` ("authentication failed"); bytes that are
 * no envelope give `ERR_CORRUPT`.
 */
export function decrypt(data: BytesLike, cipher: Cipher): Buffer {
  const c = checkCipher('cipher', cipher);
  const bytes = toBytes('data', data);
  if (isCallbacks(c)) {
    const out = c.decrypt(toBuffer(bytes));
    if (out instanceof Promise) throw invalidType('cipher.decrypt', 'a synchronous function (use decryptAsync)', out);
    return checkCallbackResult('cipher.decrypt', out);
  }
  try {
    return native.decrypt(bytes, ALGORITHMS[c.algorithm], keyBytes('cipher', c));
  } catch (err) {
    rethrowNative(err, 'decrypt');
  }
}

/** {@link encrypt} on the libuv pool; callbacks may return promises. */
export async function encryptAsync(data: BytesLike, cipher: Cipher): Promise<Buffer> {
  const c = checkCipher('cipher', cipher);
  const bytes = toBytes('data', data);
  if (isCallbacks(c)) return checkCallbackResult('cipher.encrypt', await c.encrypt(toBuffer(bytes)));
  try {
    return await native.encryptAsync(bytes, ALGORITHMS[c.algorithm], keyBytes('cipher', c));
  } catch (err) {
    rethrowNative(err, 'encryptAsync');
  }
}

/** {@link decrypt} on the libuv pool; callbacks may return promises. */
export async function decryptAsync(data: BytesLike, cipher: Cipher): Promise<Buffer> {
  const c = checkCipher('cipher', cipher);
  const bytes = toBytes('data', data);
  if (isCallbacks(c)) return checkCallbackResult('cipher.decrypt', await c.decrypt(toBuffer(bytes)));
  try {
    return await native.decryptAsync(bytes, ALGORITHMS[c.algorithm], keyBytes('cipher', c));
  } catch (err) {
    rethrowNative(err, 'decryptAsync');
  }
}
