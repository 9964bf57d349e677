// The ways tensorCache once served a result computed from something else than what the caller
// passed (issue 9): each test reproduces one, through storage that outlives the wrapper (a dir).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tensorCache } from '../../src/index.js';
import { tempDir } from '../helpers.js';
import { f32, rowsOf, type T } from './helpers.js';

const scale = (x: T, k: number) => f32(rowsOf(x).map((r) => r.map((v) => v * k)));

describe('tensorCache keys cover what a result depends on', () => {
  const root = tempDir();
  let n = 0;
  const dir = () => join(root, `d${n++}`);

  it('closures of one factory over different values, declared with dependsOn, never serve each other through a dir', async () => {
    const d = dir();
    const mk = (k: number) => async (x: T) => scale(x, k);
    const two = tensorCache({ dir: d, dependsOn: [2] })(mk(2));
    expect(rowsOf(await two(f32([[1], [2]])))).toEqual([[2], [4]]);
    await two.cache.flush();
    const three = tensorCache({ dir: d, dependsOn: [3] })(mk(3));
    expect(rowsOf(await three(f32([[1], [2]])))).toEqual([[3], [6]]);
  });

  it('a runtime subclass that overrides a helper is not served its base class\'s persistent results', async () => {
    const d = dir();
    class Base {
      constructor(readonly k: number) {}
      helper(v: number) {
        return v * this.k;
      }
      async forward(x: T) {
        return f32(rowsOf(x).map((r) => r.map((v) => this.helper(v))));
      }
    }
    const Cached = tensorCache({ dir: d })(Base);
    class Plus extends Cached {
      override helper(v: number) {
        return v * this.k + 1;
      }
    }
    const base = new Cached(2);
    expect(rowsOf(await base.forward(f32([[1]])))).toEqual([[2]]);
    await (base as unknown as { cache: { flush(): Promise<void> } }).cache.flush();
    expect(rowsOf(await new Plus(2).forward(f32([[1]])))).toEqual([[3]]);
  });

  it('method form: instances with different state never read each other\'s results from a dir', async () => {
    const d = dir();
    class Scaler {
      constructor(readonly k: number) {}
      async forward(x: T) {
        return scale(x, this.k);
      }
    }
    // A legacy (experimentalDecorators) method decorator, applied by hand.
    const desc = Object.getOwnPropertyDescriptor(Scaler.prototype, 'forward')!;
    Object.defineProperty(Scaler.prototype, 'forward', tensorCache({ dir: d })(Scaler.prototype, 'forward', desc));
    const a = new Scaler(2);
    expect(rowsOf(await a.forward(f32([[1]])))).toEqual([[2]]);
    await (a as unknown as { cache: { flush(): Promise<void> } }).cache.flush();
    expect(rowsOf(await new Scaler(3).forward(f32([[1]])))).toEqual([[3]]);
  });

  it('splits string tensors per row: rows with equal numbers but different strings get their own results', async () => {
    const f = tensorCache()(async (x: T, s: { type: 'string'; dims: number[]; data: string[] }) =>
      f32(rowsOf(x).map((r, i) => [r[0] + s.data[i].length])),
    );
    const out = await f(f32([[1], [1], [1]]), { type: 'string', dims: [3], data: ['a', 'bb', 'ccc'] });
    expect(rowsOf(out)).toEqual([[2], [3], [4]]);
  });

  it('a batch buffer refilled while the call is pending neither changes its result nor poisons the cache', async () => {
    const f = tensorCache({ dir: dir() })(async (x: T) => {
      await new Promise((r) => setTimeout(r, 5));
      return scale(x, 10);
    });
    const batch = f32([[1], [2]]);
    const pending = f(batch);
    batch.data.set([7, 8]); // the caller reuses its buffer for the next batch at once
    expect(rowsOf(await pending)).toEqual([[10], [20]]);
    expect(rowsOf(await f(f32([[1], [2]])))).toEqual([[10], [20]]);
  });

  describe('a call served whole from the memory tier copies nothing, and when its samples disagree in shape', () => {
    // Each row comes back as a row as wide as the widest of its batch (padding per batch).
    const padded = async (x: T) => {
      const rows = rowsOf(x);
      const width = Math.max(...rows.map((r) => r[0]));
      return f32(rows.map((r) => Array.from({ length: width }, (_, i) => (i < r[0] ? r[0] : 0))));
    };

    it('runs uncached on the bytes it was called with', async () => {
      const f = tensorCache()(padded);
      await f(f32([[1]]));
      await f(f32([[2]]));
      expect(rowsOf(await f(f32([[1], [2]])))).toEqual(rowsOf(await padded(f32([[1], [2]]))));
    });

    it('refuses with a TypeError, never a result of other bytes, when the caller changed them meanwhile', async () => {
      const f = tensorCache()(padded);
      await f(f32([[1]]));
      await f(f32([[2]]));
      const batch = f32([[1], [2]]);
      const pending = f(batch);
      batch.data.set([3, 3]);
      await expect(pending).rejects.toThrow(/changed while the call was pending\) for args\[0\]/);
    });
  });
});
