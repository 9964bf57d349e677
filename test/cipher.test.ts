import { createCipheriv, createDecipheriv, createHash, randomBytes as cryptoRandom } from 'node:crypto';
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
  it('round trips 0 bytes, 1 byte and 1 MiB - 1 in one envelope', () => {
    for (const n of [0, 1, (1 << 20) - 1]) {
      const data = randomBytes(n, n + 1);
      const env = encrypt(data, aes);
      expect(env.byteLength).toBe(28 + n + 16);
      expect(decrypt(env, aes).equals(data)).toBe(true);
    }
  });

  it('is what node:crypto decrypts with the header and then the aad as additional data (known layout)', () => {
    const data = Buffer.from('the quick brown fox');
    const aad = Buffer.from('session\0key-1');
    const env = encrypt(data, aes, { aad });
    const header = env.subarray(0, 28);
    const nonce = env.subarray(16, 28);
    const tag = env.subarray(env.length - 16);
    const d = createDecipheriv('aes-256-gcm', key, nonce);
    d.setAAD(Buffer.concat([header, aad]));
    d.setAuthTag(tag);
    const plain = Buffer.concat([d.update(env.subarray(28, env.length - 16)), d.final()]);
    expect(plain.toString()).toBe('the quick brown fox');
    expect(header.subarray(0, 4).toString('latin1')).toBe('MCE\x02');
  });

  it('decrypts a value only with the aad it was encrypted with: another aad or none is ERR_DECRYPT', async () => {
    const env = encrypt('value of key K1', aes, { aad: 'ns\0K1' });
    expect(decrypt(env, aes, { aad: 'ns\0K1' }).toString()).toBe('value of key K1');
    expect(decrypt(env, aes, { aad: Buffer.from('ns\0K1') }).toString()).toBe('value of key K1');
    for (const other of [{ aad: 'ns\0K2' }, { aad: '' }, undefined]) {
      expect(() => decrypt(env, aes, other)).toThrow(/authentication failed/);
      expect(codeOf(() => decrypt(env, aes, other))).toBe('ERR_DECRYPT');
      await expect(decryptAsync(env, aes, other)).rejects.toMatchObject({ code: 'ERR_DECRYPT' });
    }
    const plain = encrypt('no aad', aes);
    expect(codeOf(() => decrypt(plain, aes, { aad: 'ns\0K1' }))).toBe('ERR_DECRYPT');
  });

  it('binds the aad off the main thread too', async () => {
    const data = randomBytes(300_000, 4);
    const env = await encryptAsync(data, aes, { aad: 'K1' });
    expect((await decryptAsync(env, aes, { aad: 'K1' })).equals(data)).toBe(true);
    expect(decrypt(env, aes, { aad: 'K1' }).equals(data)).toBe(true);
    await expect(decryptAsync(env, aes, { aad: 'K2' })).rejects.toMatchObject({ code: 'ERR_DECRYPT' });
  });

  it('still reads a version-1 envelope (before aad) without an aad, and refuses it with one', () => {
    const nonce = cryptoRandom(12);
    const keyId = createHash('sha256').update('modelcache key id v1').update(key).digest().subarray(0, 8);
    const header = Buffer.concat([Buffer.from('MCE\x01\x01\0\0\0', 'latin1'), keyId, nonce]);
    const c = createCipheriv('aes-256-gcm', key, nonce);
    c.setAAD(header);
    const body = Buffer.concat([c.update('old entry'), c.final()]);
    const v1 = Buffer.concat([header, body, c.getAuthTag()]);
    expect(decrypt(v1, aes).toString()).toBe('old entry');
    expect(() => decrypt(v1, aes, { aad: 'K1' })).toThrow(/older version without an aad/);
    expect(codeOf(() => decrypt(v1, aes, { aad: 'K1' }))).toBe('ERR_DECRYPT');
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

describe('aes-256-gcm from 1 MiB on: the chunked envelope', () => {
  const MiB = 1 << 20;

  it('is what node:crypto decrypts chunk by chunk, each with its own nonce and bound position (known layout)', () => {
    const data = randomBytes(2 * MiB + 100, 21);
    const aad = Buffer.from('session\0key-2');
    const env = encrypt(data, aes, { aad });
    const header = env.subarray(0, 40);
    expect(header.subarray(0, 5)).toEqual(Buffer.from([0x4d, 0x43, 0x45, 3, 1]));
    expect(header.readUInt32LE(28)).toBe(MiB);
    expect(Number(header.readBigUInt64LE(32))).toBe(data.length);
    expect(env.length).toBe(40 + data.length + 3 * 16);
    const parts: Buffer[] = [];
    for (let i = 0; i < 3; i++) {
      const len = Math.min(MiB, data.length - i * MiB);
      const at = 40 + i * (MiB + 16);
      const nonce = Buffer.from(header.subarray(16, 28));
      nonce.writeBigUInt64LE(nonce.readBigUInt64LE(4) ^ BigInt(i), 4);
      const position = Buffer.alloc(16);
      position.writeBigUInt64LE(BigInt(i), 0);
      position.writeBigUInt64LE(3n, 8);
      const d = createDecipheriv('aes-256-gcm', key, nonce);
      d.setAAD(Buffer.concat([header, position, aad]));
      d.setAuthTag(env.subarray(at + len, at + len + 16));
      parts.push(Buffer.concat([d.update(env.subarray(at, at + len)), d.final()]));
    }
    expect(Buffer.concat(parts).equals(data)).toBe(true);
  });

  it('decrypts the same on and off the main thread, only with its aad', async () => {
    const data = randomBytes(3 * MiB, 22);
    const sync = encrypt(data, aes, { aad: 'k1' });
    const off = await encryptAsync(data, aes, { aad: 'k1' });
    for (const env of [sync, off]) {
      expect(decrypt(env, aes, { aad: 'k1' }).equals(data)).toBe(true);
      expect((await decryptAsync(env, aes, { aad: 'k1' })).equals(data)).toBe(true);
      await expect(decryptAsync(env, aes, { aad: 'k2' })).rejects.toMatchObject({ code: 'ERR_DECRYPT' });
    }
  });

  it('fails authentication when two chunks trade places', () => {
    const data = randomBytes(2 * MiB, 23);
    const env = encrypt(data, aes);
    const swapped = Buffer.from(env);
    const chunk = MiB + 16;
    env.copy(swapped, 40, 40 + chunk, 40 + 2 * chunk);
    env.copy(swapped, 40 + chunk, 40, 40 + chunk);
    expect(codeOf(() => decrypt(swapped, aes))).toBe('ERR_DECRYPT');
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

  it('tells aads apart too: another aad is ERR_DECRYPT, never the value', () => {
    const env = encrypt('value of K1', xor, { aad: 'K1' });
    expect(decrypt(env, xor, { aad: 'K1' }).toString()).toBe('value of K1');
    expect(() => decrypt(env, xor, { aad: 'K2' })).toThrow(/another aad/);
    expect(codeOf(() => decrypt(env, xor))).toBe('ERR_DECRYPT');
  });
});

describe('aad option', () => {
  it('is validated when given: bytes or a string, no other option', () => {
    expect(() => encrypt('x', aes, { aad: 42 } as never)).toThrow(/options\.aad/);
    expect(() => encrypt('x', aes, { aad: 42 } as never)).toThrow(TypeError);
    expect(() => decrypt('x', aes, { add: 'K1' } as never)).toThrow(/Unknown option "add"/);
    expect(() => encrypt('x', aes, 'K1' as never)).toThrow(/options/);
  });
});

describe('keys never appear in error messages', () => {
  const hexKey = cryptoRandom(32).toString('hex');
  const leaks = (message: string, secret: string) => {
    for (let i = 0; i + 6 <= secret.length; i++) if (message.includes(secret.slice(i, i + 6))) return true;
    return false;
  };
  const messageOf = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error('expected a throw');
  };

  it('not for a hex key of the wrong length', () => {
    const bad = hexKey.slice(0, 63);
    const msg = messageOf(() => encrypt('x', { algorithm: 'aes-256-gcm', key: bad }));
    expect(msg).toMatch(/cipher\.key/);
    expect(msg).toMatch(/63 characters/);
    expect(leaks(msg, bad)).toBe(false);
  });

  it('not for a key given where the cipher object belongs', () => {
    const msg = messageOf(() => encrypt('x', hexKey as never));
    expect(msg).toMatch(/Expected \{ algorithm, key \} or \{ encrypt, decrypt \} for cipher/);
    expect(leaks(msg, hexKey)).toBe(false);
  });

  it('not for a key of the wrong type', () => {
    const msg = messageOf(() => encrypt('x', { algorithm: 'xor', key: 123456789 as never }));
    expect(msg).toMatch(/cipher\.key/);
    expect(leaks(msg, '123456789')).toBe(false);
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

  it('receive the aad as context, and a value moved to another aad is ERR_DECRYPT even when they ignore it', async () => {
    const seen: string[] = [];
    const ignoring: Cipher = {
      encrypt: (b, ctx) => (seen.push(`e:${ctx.aad.toString()}`), Buffer.from(b).reverse()),
      decrypt: (b, ctx) => (seen.push(`d:${ctx.aad.toString()}`), Buffer.from(b).reverse()),
    };
    const env = encrypt('value of K1', ignoring, { aad: 'K1' });
    expect(decrypt(env, ignoring, { aad: 'K1' }).toString()).toBe('value of K1');
    expect(seen).toEqual(['e:K1', 'd:K1']);
    expect(codeOf(() => decrypt(env, ignoring, { aad: 'K2' }))).toBe('ERR_DECRYPT');
    await expect(decryptAsync(env, ignoring, { aad: 'K2' })).rejects.toMatchObject({ code: 'ERR_DECRYPT' });
    expect(codeOf(() => decrypt(encrypt('unbound', ignoring), ignoring, { aad: 'K1' }))).toBe('ERR_DECRYPT');
    expect(seen).toEqual(['e:K1', 'd:K1', 'e:']);
  });

  it('must come in pairs and return bytes', () => {
    expect(() => encrypt('a', { encrypt: (b: Buffer) => b } as never)).toThrow(/cipher\.decrypt/);
    expect(() => encrypt('a', { encrypt: () => 'str', decrypt: (b: Buffer) => b } as never)).toThrow(TypeError);
  });
});
