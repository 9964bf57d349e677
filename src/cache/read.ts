// Reads of values tier by tier, fastest first: each tier is asked only for the keys the faster
// ones missed (a synchronous tier answers without a promise per key), a hit in a tier of encoded
// bytes is decoded once and promoted to the faster tiers, and a value that fails to decode is
// dropped from its tier (a miss, never wrong data).
import type { CacheError } from '../errors.js';
import { warn } from '../log.js';
import type { Tier } from '../store/tier.js';
import type { ValueCodec } from './codec.js';
import type { EncodedWrites } from './write.js';

/** What the reads need from their Cache. */
export interface ReadDeps {
  tiers: readonly Tier[];
  codec: ValueCodec;
  writes: EncodedWrites;
  /** Tracks background work (a drop of a damaged value) until `flush()`. */
  track(p: Promise<unknown>): void;
  tierFailed(tier: Tier, op: string, err: unknown): void;
  /** Counts a value dropped as corrupt or undecryptable. */
  corrupt(): void;
}

export class TierReads {
  readonly #d: ReadDeps;

  constructor(deps: ReadDeps) {
    this.#d = deps;
  }

  /** Reads checked keys tier by tier (see `Cache.getMany`), the shared tier skipped when `localOnly`; counts nothing. */
  async read(keys: readonly string[], ns: string, borrow: boolean, localOnly: boolean): Promise<{ out: (Buffer | undefined)[]; missed: number }> {
    const out: (Buffer | undefined)[] = new Array(keys.length);
    let pending: number[] = keys.map((_, i) => i);
    for (let t = 0; t < this.#d.tiers.length && pending.length > 0; t++) {
      const tier = this.#d.tiers[t];
      if (tier.shared && localOnly) continue;
      let stored: (Buffer | undefined)[];
      try {
        const ks = pending.length === keys.length ? keys : pending.map((i) => keys[i]);
        if (borrow && tier.getManyBorrowed) stored = tier.getManyBorrowed(ks, ns);
        else {
          const r = tier.getMany(ks, ns);
          stored = r instanceof Promise ? await r : r;
        }
      } catch (err) {
        this.#d.tierFailed(tier, 'getMany', err);
        continue;
      }
      const still: number[] = [];
      const decoding: Promise<void>[] = [];
      const codec = this.#d.codec;
      pending.forEach((i, j) => {
        const v = stored[j];
        if (v === undefined) {
          still.push(i);
          return;
        }
        if (!tier.encoded) {
          out[i] = v;
          if (t > 0) this.#promote(ns, keys[i], v, t);
          return;
        }
        if (codec.decodesSync(v)) {
          try {
            const raw = codec.decodeSync(v, ns, keys[i]);
            out[i] = raw;
            this.#promote(ns, keys[i], raw, t);
          } catch (err) {
            this.#dropUndecodable(tier, ns, keys[i], err);
            still.push(i);
          }
          return;
        }
        decoding.push(
          codec.decode(v, ns, keys[i]).then(
            (raw) => {
              out[i] = raw;
              this.#promote(ns, keys[i], raw, t);
            },
            (err) => {
              this.#dropUndecodable(tier, ns, keys[i], err);
              still.push(i);
            },
          ),
        );
      });
      if (decoding.length > 0) await Promise.all(decoding);
      pending = still;
    }
    return { out, missed: pending.length };
  }


  /** A value that failed to decode: dropped from its tier when damaged or undecryptable, else a tier failure. */
  #dropUndecodable(tier: Tier, ns: string, key: string, err: unknown): void {
    const code = (err as CacheError).code;
    if (code === 'ERR_CORRUPT' || code === 'ERR_DECRYPT') {
      this.#d.corrupt();
      warn(code, `dropped cache entry ${ns}/${key} from the ${tier.name} tier: ${(err as Error).message}`);
      this.#d.track(Promise.resolve().then(() => tier.delete(key, ns)).catch((e) => this.#d.tierFailed(tier, 'delete', e)));
    } else {
      this.#d.tierFailed(tier, 'decode', err);
    }
  }

  /** Copies a hit into the tiers faster than the one it was found in. */
  #promote(ns: string, key: string, raw: Buffer, foundAt: number): void {
    for (let j = 0; j < foundAt; j++) {
      const tier = this.#d.tiers[j];
      try {
        if (!tier.encoded) {
          // A private copy: the caller owns `raw`.
          if (tier.putOwned) tier.putOwned(key, Buffer.from(raw), ns);
          else void tier.put(key, raw, { namespace: ns });
        } else {
          this.#d.writes.put(tier, key, raw, this.#d.codec.elementSize, { namespace: ns });
        }
      } catch (err) {
        this.#d.tierFailed(tier, 'put', err);
      }
    }
  }
}
