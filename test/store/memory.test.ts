import { describe, expect, it } from 'vitest';
import { MemoryTier } from '../../src/index.js';

describe('MemoryTier', () => {
  it('returns copies: mutating a result or the put buffer never changes the cache', () => {
    const t = new MemoryTier({ maxBytes: 1000 });
    const v = Buffer.from('abc');
    t.put('k', v);
    v[0] = 0x7a;
    const out = t.get('k')!;
    expect(out.toString()).toBe('abc');
    out[0] = 0x7a;
    expect(t.get('k')!.toString()).toBe('abc');
  });

  it('evicts least recently used entries by bytes and calls dispose with the reason', () => {
    const disposed: [string, string][] = [];
    const t = new MemoryTier({ maxBytes: 10, dispose: (_v, k, reason) => disposed.push([k, reason]) });
    t.put('a', Buffer.alloc(4));
    t.put('b', Buffer.alloc(4));
    t.get('a'); // a is now most recent
    t.put('c', Buffer.alloc(4));
    expect(t.keys()).toEqual(['a', 'c']);
    expect(disposed).toEqual([['b', 'evict']]);
    t.put('a', Buffer.alloc(1));
    t.delete('c');
    t.clear();
    expect(disposed.slice(1)).toEqual([['a', 'set'], ['c', 'delete'], ['a', 'clear']]);
  });

  it('does not store an entry larger than maxBytes and evicts nothing for it', () => {
    const t = new MemoryTier({ maxBytes: 10 });
    t.put('a', Buffer.alloc(6));
    expect(t.put('huge', Buffer.alloc(11))).toBe(false);
    expect(t.keys()).toEqual(['a']);
    expect(t.stats()).toMatchObject({ entries: 1, bytes: 6, rejected: 1 });
  });

  it('counts hits, misses, puts and evictions', () => {
    const t = new MemoryTier({ maxBytes: 4 });
    t.put('a', Buffer.alloc(4));
    t.get('a');
    t.get('x');
    t.put('b', Buffer.alloc(4));
    expect(t.stats()).toMatchObject({ hits: 1, misses: 1, puts: 2, evictions: 1, entries: 1, bytes: 4, maxBytes: 4 });
  });

  it('validates its options', () => {
    expect(() => new MemoryTier({ maxBytes: -1 })).toThrow(/options\.maxBytes/);
    expect(() => new MemoryTier({ maxbytes: 1 } as never)).toThrow(/"maxbytes"/);
    expect(() => new MemoryTier({ dispose: 5 } as never)).toThrow(TypeError);
  });
});
