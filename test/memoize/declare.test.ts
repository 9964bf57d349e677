// What tensorCache keys on besides tensors: declared dependencies (dependsOn, contentOf), feeds
// objects, declared rows, instance identity, and the refusals that say how to declare the rest.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cache, contentOf, tensorCache } from '../../src/index.js';
import { tempDir } from '../helpers.js';
import { f32, rowsOf, type T } from './helpers.js';

const scale = (x: T, k: number) => f32(rowsOf(x).map((r) => r.map((v) => v * k)));

describe('dependsOn', () => {
  const root = tempDir();
  let n = 0;
  const dir = () => join(root, `d${n++}`);

  it('a persistent function that declares its model file recomputes after the file changes', async () => {
    const d = dir();
    const model = join(root, `model${n++}.txt`);
    writeFileSync(model, '2');
    const run = async (x: T) => scale(x, Number((await import('node:fs')).readFileSync(model, 'utf8')));
    const first = tensorCache({ dir: d, dependsOn: [contentOf(model)] })(run);
    expect(rowsOf(await first(f32([[1]])))).toEqual([[2]]);
    writeFileSync(model, '5');
    const second = tensorCache({ dir: d, dependsOn: [contentOf(model)] })(run);
    expect(rowsOf(await second(f32([[1]])))).toEqual([[5]]);
    expect(second.cache.moduleHash).not.toBe(first.cache.moduleHash);
  });

  it('keys a file by its content, not its name', async () => {
    const a = join(root, `a${n++}.bin`);
    const b = join(root, `b${n++}.bin`);
    writeFileSync(a, 'weights');
    writeFileSync(b, 'weights');
    const fa = tensorCache({ dependsOn: [contentOf(a)] })(async (x: T) => x);
    const fb = tensorCache({ dependsOn: [contentOf(b)] })(async (x: T) => x);
    await fa(f32([[1]]));
    await fb(f32([[1]]));
    expect(fa.cache.moduleHash).toBe(fb.cache.moduleHash);
  });

  it('a missing dependency file fails the call, naming the file, and is retried at the next call', async () => {
    const p = join(root, `late${n++}.bin`);
    const f = tensorCache({ dependsOn: [contentOf(p)] })(async (x: T) => x);
    await expect(f(f32([[1]]))).rejects.toThrow(/late/);
    writeFileSync(p, 'now');
    expect(rowsOf(await f(f32([[1]])))).toEqual([[1]]);
  });

  it('refuses a function in dependsOn when tensorCache is called, naming it', () => {
    expect(() => tensorCache({ dependsOn: [1, () => 2] })).toThrow(/options\.dependsOn\[1\]/);
  });

  it('refuses an object that is neither plain data, a file nor a modelcache/ort session, naming it', () => {
    class Session {}
    expect(() => tensorCache({ dependsOn: [{ s: new Session() }] })).toThrow(/options\.dependsOn\[0\]\.s/);
  });

  it('closures of one source storing into one dir without dependsOn are refused', () => {
    const d = dir();
    const mk = (k: number) => async (x: T) => scale(x, k);
    tensorCache({ dir: d })(mk(2));
    expect(() => tensorCache({ dir: d })(mk(3))).toThrow(/dependsOn/);
    expect(() => tensorCache({ dir: d, dependsOn: [3] })(mk(3))).not.toThrow();
  });

  it('closures of one source sharing a Cache without dependsOn are refused', () => {
    const cache = new Cache({ dir: false });
    const mk = (k: number) => async (x: T) => scale(x, k);
    tensorCache({ cache })(mk(2));
    expect(() => tensorCache({ cache })(mk(3))).toThrow(/dependsOn/);
  });

  it('wrapping the same function twice into one dir is allowed', () => {
    const d = dir();
    const fn = async (x: T) => x;
    tensorCache({ dir: d })(fn);
    expect(() => tensorCache({ dir: d })(fn)).not.toThrow();
  });
});

describe('arguments that cannot be keyed', () => {
  it('a function argument is refused with a TypeError naming it', async () => {
    const f = tensorCache()(async (x: T, k: () => number) => scale(x, k()));
    await expect(f(f32([[1]]), () => 2)).rejects.toThrow(/captured state.*args\[1\]/);
  });

  it('a bound function cannot be wrapped: its source does not show', () => {
    const o = { k: 2, async run(x: T) { return scale(x, this.k); } };
    expect(() => tensorCache()(o.run.bind(o))).toThrow(/bound/);
  });
});

describe('feeds objects and declared rows', () => {
  it('splits tensors inside a feeds object per row, keyed by member name', async () => {
    const seen: number[] = [];
    const f = tensorCache()(async (feeds: { a: T; b: T }) => {
      seen.push(feeds.a.dims[0]);
      return f32(rowsOf(feeds.a).map((r, i) => [r[0] * 10 + rowsOf(feeds.b)[i][0]]));
    });
    expect(rowsOf(await f({ a: f32([[1], [2]]), b: f32([[3], [4]]) }))).toEqual([[13], [24]]);
    expect(rowsOf(await f({ a: f32([[2], [9]]), b: f32([[4], [9]]) }))).toEqual([[24], [99]]);
    expect(seen).toEqual([2, 1]);
    // Same rows, names swapped: another sample.
    expect(rowsOf(await f({ b: f32([[1]]), a: f32([[3]]) }))).toEqual([[31]]);
  });

  it('keeps non-tensor members of a feeds object whole and in the key', async () => {
    const f = tensorCache()(async (feeds: { x: T; k: number }) => scale(feeds.x, feeds.k));
    expect(rowsOf(await f({ x: f32([[1]]), k: 2 }))).toEqual([[2]]);
    expect(rowsOf(await f({ x: f32([[1]]), k: 3 }))).toEqual([[3]]);
  });

  it('caches embed(texts) per text when the array is declared as rows', async () => {
    const seen: string[][] = [];
    const embed = tensorCache({ rows: [0] })(async (texts: string[]) => {
      seen.push(texts);
      return f32(texts.map((t) => [t.length]));
    });
    expect(rowsOf(await embed(['a', 'bb']))).toEqual([[1], [2]]);
    expect(rowsOf(await embed(['ccc', 'a', 'bb']))).toEqual([[3], [1], [2]]);
    expect(seen).toEqual([['a', 'bb'], ['ccc']]);
  });

  it('declares rows by member name of a feeds object', async () => {
    const seen: string[][] = [];
    const embed = tensorCache({ rows: ['texts'] })(async (o: { texts: string[]; upper: boolean }) => {
      seen.push(o.texts);
      return f32(o.texts.map((t) => [o.upper ? t.length * 10 : t.length]));
    });
    await embed({ texts: ['a', 'bb'], upper: false });
    expect(rowsOf(await embed({ texts: ['bb', 'a'], upper: false }))).toEqual([[2], [1]]);
    expect(rowsOf(await embed({ texts: ['a'], upper: true }))).toEqual([[10]]);
    expect(seen).toEqual([['a', 'bb'], ['a']]);
  });

  it('keeps an undeclared array a whole-call value', async () => {
    let calls = 0;
    const f = tensorCache()(async (x: T, weights: number[]) => {
      calls++;
      return scale(x, weights.length);
    });
    await f(f32([[1]]), [1, 2]);
    expect(rowsOf(await f(f32([[1]]), [1, 2, 3]))).toEqual([[3]]);
    expect(calls).toBe(2);
  });

  it('refuses a declared row argument that is not an array, naming it', async () => {
    const f = tensorCache({ rows: [1] })(async (x: T, _t: unknown) => x);
    await expect(f(f32([[1]]), 'text')).rejects.toThrow(/args\[1\]/);
  });

  it('refuses row sources of different batch sizes, naming both', async () => {
    const f = tensorCache({ rows: [1] })(async (x: T, _t: string[]) => x);
    await expect(f(f32([[1], [2]]), ['a'])).rejects.toThrow(/args\[1\]\.length.*args\[0\]|batch size 2 of args\[0\].*args\[1\]\.length/);
  });
});

describe('instances', () => {
  it('method form: an instance property without an encoding is a TypeError naming it and pointing to instanceKey', async () => {
    class Session {}
    class Encoder {
      session = new Session();
      async forward(x: T) {
        return x;
      }
    }
    const desc = Object.getOwnPropertyDescriptor(Encoder.prototype, 'forward')!;
    Object.defineProperty(Encoder.prototype, 'forward', tensorCache()(Encoder.prototype, 'forward', desc));
    await expect(new Encoder().forward(f32([[1]]))).rejects.toThrow(/instanceKey.*this\.session/);
  });

  it('method form: instanceKey(self) gives the identity instead', async () => {
    class Session {}
    class Encoder {
      session = new Session();
      constructor(readonly k: number) {}
      async forward(x: T) {
        return scale(x, this.k);
      }
    }
    const desc = Object.getOwnPropertyDescriptor(Encoder.prototype, 'forward')!;
    const cache = new Cache({ dir: false });
    Object.defineProperty(Encoder.prototype, 'forward', tensorCache({ cache, instanceKey: (self: Encoder) => self.k })(Encoder.prototype, 'forward', desc));
    expect(rowsOf(await new Encoder(2).forward(f32([[1]])))).toEqual([[2]]);
    expect(rowsOf(await new Encoder(3).forward(f32([[1]])))).toEqual([[3]]);
  });

  it('class form: a class between the runtime class and the decorated one is part of the module hash', async () => {
    const cache = new Cache({ dir: false });
    const Cached = tensorCache({ cache })(
      class Base {
        helper(v: number) {
          return v;
        }
        async forward(x: T) {
          return f32(rowsOf(x).map((r) => [this.helper(r[0])]));
        }
      },
    );
    class Middle extends Cached {
      override helper(v: number) {
        return v * 100;
      }
    }
    class Leaf extends Middle {}
    await new Cached().forward(f32([[1]]));
    expect(rowsOf(await new Leaf().forward(f32([[1]])))).toEqual([[100]]);
  });
});

describe('options are validated when given', () => {
  it('a bad compression level fails at tensorCache(), not at the first call', () => {
    expect(() => tensorCache({ persistent: true, compression: { codec: 'zstd', level: 99 } })).toThrow(/level/);
  });

  it('persistent: false with dir is a TypeError naming both', () => {
    expect(() => tensorCache({ persistent: false, dir: '/tmp/x' })).toThrow(/options\.dir.*persistent: false|persistent: false.*options\.dir/);
  });

  it('cache with maxMemoryBytes is a TypeError naming both', () => {
    expect(() => tensorCache({ cache: new Cache({ dir: false }), maxMemoryBytes: 10 })).toThrow(/options\.maxMemoryBytes.*options\.cache|options\.cache.*options\.maxMemoryBytes/);
  });

  it('maxDiskBytes or compression without a disk tier is a TypeError naming both', () => {
    expect(() => tensorCache({ maxDiskBytes: 1e6 })).toThrow(/maxDiskBytes.*persistent/);
    expect(() => tensorCache({ compression: 'lz4' })).toThrow(/compression.*persistent/);
  });

  it('method on a function and instanceKey on a function are refused', () => {
    expect(() => tensorCache({ method: 'embed' })(async (x: T) => x)).toThrow(/options\.method/);
    expect(() => tensorCache({ instanceKey: () => 1 })(async (x: T) => x)).toThrow(/options\.instanceKey/);
  });

  it('rows must be positions or member names', () => {
    expect(() => tensorCache({ rows: [-1] })).toThrow(/options\.rows\[0\]/);
    expect(() => tensorCache({ rows: 0 as never })).toThrow(/options\.rows/);
  });
});
