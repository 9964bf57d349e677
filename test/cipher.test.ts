import { createDecipheriv, randomBytes as cryptoRandom } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decrypt, decryptAsync, encrypt, encryptAsync, CacheError, type Cipher } from '../src/index.js';
import { randomBytes } from './helpers.js';

const key = cryptoRandom(32);
const aes: Cipher = { algorithm: 'aes-256-gcm', key };
const xor: Cipher = { algorithm: 'xor', key: 'not a secret' };

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CacheError);
    return (err as CacheError).code;
  }
  return undefined;
}

describe('aes-256-gcm', () => {
  it('round trips 0 bytes, 1 byte and 1 MiB', () => {
    for (const n of [0, 1, 1 << 20]) {
      const data = randomBytes(n, n + 1);
      const env = encrypt(data, aes);
      expect(env.byteLength).toBe(28 + n + 16);
      expect(decrypt(env, aes).equals(data)).toBe(true);
    }
  });

  it('is what node:crypto decrypts with the header as additional data (known layout)', () => {
    const data = Buffer.from('the quick brown fox');
    const env = encrypt(data, aes);
    const header = env.subarray(0, 28);
    const nonce = env.subarray(16, 28);
    const tag = env.subarray(env.length - 16);
    const d = createDecipheriv('aes-256-gcm', key, nonce);
    d.setAAD(header);
    d.setAuthTag(tag);
    const plain = Buffer.concat([d.update(env.subarray(28, env.length - 16)), d.final()]);
    expect(plain.toString()).toBe('the quick brown fox');
    expect(header.subarray(0, 4).toString('latin1')).toBe('MCE\x01');
  });

  it('uses a fresh random nonce for every encryption', () => {
    const a = encrypt('same', aes);
    const b = encrypt('same', aes);
    expect(a.subarray(16, 28).equals(b.subarray(16, 28))).toBe(false);
  });

  it('reports a different key as ERR_DECRYPT "wrong key"', () => {
    const env = encrypt('secret', aes);
    expect(() => decrypt(env, { algorithm: 'aes-256-gcm', key: cryptoRandom(32) })).toThrow(/wrong key/);
    expect(codeOf(() => decrypt(env, { algorithm: 'aes-256-gcm', key: cryptoRandom(32) }))).toBe('ERR_DECRYPT');
  });

  it('reports any changed byte of nonce, ciphertext or tag as ERR_DECRYPT "authentication failed"', () => {
    const env = encrypt(randomBytes(100, 3), aes);
    for (let i = 16; i < env.length; i++) {
      const bad = Buffer.from(env);
      bad[i] ^= 0x20;
      expect(() => decrypt(bad, aes), `byte ${i}`).toThrow(/authentication failed/);
    }
  });

  it('reports truncated or foreign bytes as ERR_CORRUPT', () => {
    const env = encrypt('x', aes);
    expect(codeOf(() => decrypt(env.subarray(0, 30), aes))).toBe('ERR_CORRUPT');
    expect(codeOf(() => decrypt(Buffer.from('definitely not an envelope, no sir'), aes))).toBe('ERR_CORRUPT');
  });

  it('accepts a 64-hex-character key and rejects keys of the wrong size', () => {
    const hex = key.toString('hex');
    expect(decrypt(encrypt('hi', { algorithm: 'aes-256-gcm', key: hex }), aes).toString()).toBe('hi');
    expect(() => encrypt('hi', { algorithm: 'aes-256-gcm', key: cryptoRandom(16) })).toThrow(/32 bytes/);
    expect(() => encrypt('hi', { algorithm: 'aes-256-gcm', key: 'abc' })).toThrow(/cipher\.key/);
  });

  it('works off the main thread with the same envelope format', async () => {
    const data = randomBytes(4 << 20, 8);
    const env = await encryptAsync(data, aes);
    expect(decrypt(env, aes).equals(data)).toBe(true);
    expect((await decryptAsync(env, aes)).equals(data)).toBe(true);
    const bad = Buffer.from(env);
    bad[100] ^= 1;
    await expect(decryptAsync(bad, aes)).rejects.toMatchObject({ code: 'ERR_DECRYPT' });
  });
});

describe('xor (obfuscation only)', () => {
  it('round trips and hides the plaintext bytes', () => {
    const data = Buffer.from('model weights model weights model weights');
    const env = encrypt(data, xor);
    expect(env.includes(Buffer.from('model'))).toBe(false);
    expect(decrypt(env, xor).equals(data)).toBe(true);
  });

  it('tells a wrong key and a wrong algorithm apart', () => {
    const env = encrypt('abc', xor);
    expect(() => decrypt(env, { algorithm: 'xor', key: 'other' })).toThrow(/wrong key/);
    expect(() => decrypt(env, aes)).toThrow(/wrong algorithm/);
  });
});

describe('callbacks', () => {
  const reverse: Cipher = {
    encrypt: (b) => Buffer.from(b).reverse(),
    decrypt: (b) => Buffer.from(b).reverse(),
  };

  it('are used as given, sync and async', async () => {
    expect(encrypt('abc', reverse).toString()).toBe('cba');
    expect(decrypt('cba', reverse).toString()).toBe('abc');
    const asyncCb: Cipher = { encrypt: async (b) => Buffer.concat([b, Buffer.from('!')]), decrypt: async (b) => b.subarray(0, b.length - 1) };
    expect((await encryptAsync('abc', asyncCb)).toString()).toBe('abc!');
    expect((await decryptAsync('abc!', asyncCb)).toString()).toBe('abc');
  });

  it('must come in pairs and return bytes', () => {
    expect(() => encrypt('a', { encrypt: (b: Buffer) => b } as never)).toThrow(/cipher\.decrypt/);
    expect(() => encrypt('a', { encrypt: () => 'str', decrypt: (b: Buffer) => b } as never)).toThrow(TypeError);
  });
});
