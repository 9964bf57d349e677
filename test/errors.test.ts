// Error codes are stable strings: failures from the addon, Node and the OS (errno numbers
// included) all arrive as a CacheError with one of the documented codes.
import { describe, expect, it } from 'vitest';
import { CacheError } from '../src/index.js';
import { cacheErrorCode, invalidType, rethrowNative, secret } from '../src/errors.js';

function rethrown(err: unknown): CacheError {
  try {
    rethrowNative(err, 'op');
  } catch (e) {
    expect(e).toBeInstanceOf(CacheError);
    return e as CacheError;
  }
  throw new Error('rethrowNative returned');
}

describe('error codes', () => {
  it('keeps the codes the addon reports', () => {
    expect(rethrown(Object.assign(new Error('bad frame'), { code: 'ERR_CORRUPT' }))).toMatchObject({ code: 'ERR_CORRUPT', message: 'op: bad frame' });
  });

  it('turns a system error code or a bare errno number into ERR_IO, never a number', () => {
    expect(rethrown(Object.assign(new Error('no such file'), { code: 'ENOENT', errno: -2 })).code).toBe('ERR_IO');
    const fromNumber = rethrown(Object.assign(new Error('Permission denied'), { code: 13 }));
    expect(fromNumber.code).toBe('ERR_IO');
    expect(typeof fromNumber.code).toBe('string');
  });

  it('turns a full disk or quota into ERR_NO_SPACE, as a name or as errno 28', () => {
    expect(cacheErrorCode('ENOSPC')).toBe('ERR_NO_SPACE');
    expect(cacheErrorCode('EDQUOT')).toBe('ERR_NO_SPACE');
    expect(cacheErrorCode(28)).toBe('ERR_NO_SPACE');
  });

  it('gives ERR_INTERNAL for anything else, including Node codes that are not system errors', () => {
    expect(cacheErrorCode('ERR_INVALID_ARG_TYPE')).toBe('ERR_INTERNAL');
    expect(cacheErrorCode(undefined)).toBe('ERR_INTERNAL');
    expect(cacheErrorCode(-1)).toBe('ERR_INTERNAL');
    expect(rethrown('a string was thrown')).toMatchObject({ code: 'ERR_INTERNAL', message: 'op: a string was thrown' });
  });
});

describe('secret values in messages', () => {
  it('are described by type and size only', () => {
    const key = 'a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6';
    expect(invalidType('cipher.key', '64 hex characters', secret(key)).message).toBe(
      'Expected 64 hex characters for cipher.key but received a string of 32 characters (not shown)',
    );
    expect(invalidType('cipher.key', 'a key', secret(Buffer.alloc(7))).message).toContain('7 bytes (not shown)');
    expect(invalidType('cipher.key', 'a key', secret(42)).message).not.toContain('42');
  });
});
