import { describe, expect, it } from 'vitest';
import { cacheKey } from '../src/index.js';
import { encodeKey, KEY_FORMAT_VERSION } from '../src/keys.js';

describe('cacheKey', () => {
  it('is 32 hex chars and deterministic', () => {
    const k = cacheKey('ns', 1, 'a', { b: [1, 2] });
    expect(k).toMatch(/^[0-9a-f]{32}$/);
    expect(cacheKey('ns', 1, 'a', { b: [1, 2] })).toBe(k);
  });

  it('ignores object key order', () => {
    expect(cacheKey('ns', { a: 1, b: 2 })).toBe(cacheKey('ns', { b: 2, a: 1 }));
  });

  it('separates namespaces, argument positions and types', () => {
    const keys = [
      cacheKey('a', 1), cacheKey('b', 1), cacheKey('a', 1, 2), cacheKey('a', 2, 1), cacheKey('a', '1'),
      cacheKey('a', 1n), cacheKey('a', true), cacheKey('a', null), cacheKey('a', undefined), cacheKey('a', [1]),
      cacheKey('a', { 0: 1 }), cacheKey('a'),
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('keeps NaN, -0, 0, Infinity and -Infinity distinct', () => {
    const keys = [NaN, -0, 0, Infinity, -Infinity].map((v) => cacheKey('n', v));
    expect(new Set(keys).size).toBe(5);
  });

  it('does not XOR equal arguments away (f(x,5,5) != f(x,7,7))', () => {
    const x = new Float32Array([1, 2]);
    expect(cacheKey('f', x, 5, 5)).not.toBe(cacheKey('f', x, 7, 7));
  });

  it('keys typed arrays by dtype, shape and bytes', () => {
    const bytes = new Uint8Array([0, 0, 128, 63]);
    expect(cacheKey('t', new Float32Array(bytes.buffer))).not.toBe(cacheKey('t', new Int32Array(bytes.buffer)));
    expect(cacheKey('t', { type: 'float32', dims: [2, 2], data: new Float32Array(4) })).not.toBe(
      cacheKey('t', { type: 'float32', dims: [4, 1], data: new Float32Array(4) }),
    );
    expect(cacheKey('t', new Float32Array([2, 0]))).not.toBe(cacheKey('t', new Float32Array([0, 1])));
  });

  it('keys large typed arrays by content, not by identity', () => {
    const a = new Float32Array(100_000).fill(1.5);
    const b = new Float32Array(100_000).fill(1.5);
    expect(cacheKey('big', a)).toBe(cacheKey('big', b));
    b[99_999] = 2;
    expect(cacheKey('big', a)).not.toBe(cacheKey('big', b));
  });

  it('refuses a function, naming its path: its captured state cannot be hashed', () => {
    const k = 2;
    expect(() => cacheKey('fn', 1, { scale: (x: number) => x * k })).toThrow(/captured state.*args\[1\]\.scale/);
  });

  it('rejects class instances with a TypeError naming the path of the value', () => {
    class Callback {}
    expect(() => cacheKey('ns', 1, { options: { callback: new Callback() } })).toThrow(/args\[1\]\.options\.callback/);
    expect(() => cacheKey('ns', new Map())).toThrow(TypeError);
    expect(() => cacheKey('ns', Symbol('s'))).toThrow(/args\[0\]/);
  });

  it('rejects circular structures', () => {
    const o: Record<string, unknown> = {};
    o.self = o;
    expect(() => cacheKey('ns', o)).toThrow(/circular/);
  });

  it('folds the key format version into the encoding', () => {
    expect(encodeKey('ns', []).includes(Buffer.from(`modelcache-key-v${KEY_FORMAT_VERSION}`))).toBe(true);
  });
});
