// Writes into encoded tiers: the value is encoded (on this thread when small, else off it) and
// handed to the tier. A value still being encoded when the process exits is encoded on this
// thread and queued then, so an acknowledged put is never lost to `process.exit()`.
import { atExit } from '../store/exit.js';
import { DEFAULT_NAMESPACE } from '../store/namespace.js';
import type { PutMeta, Tier } from '../store/tier.js';
import type { ValueCodec } from './codec.js';

/** A value being encoded off the main thread: encoded on this thread instead if the process exits first. */
interface Draining {
  tier: Tier;
  key: string;
  raw: Uint8Array;
  elementSize: number;
  meta: PutMeta;
  done: boolean;
}

export class EncodedWrites {
  readonly #codec: ValueCodec;
  readonly #track: (p: Promise<unknown>) => void;
  readonly #failed: (tier: Tier, err: unknown) => void;
  readonly #draining = new Set<Draining>();
  #unregisterExit: (() => void) | undefined;

  constructor(codec: ValueCodec, track: (p: Promise<unknown>) => void, failed: (tier: Tier, err: unknown) => void) {
    this.#codec = codec;
    this.#track = track;
    this.#failed = failed;
  }

  /**
   * Encodes `raw` and puts it into an encoded tier. A shared tier uploads in the background; a
   * local one gets it synchronously when the value encodes on this thread, else a promise to wait
   * for (and, should the process exit first, the value is encoded and queued at exit).
   */
  put(tier: Tier, key: string, raw: Uint8Array, elementSize: number, meta: PutMeta): Promise<unknown> | undefined {
    const ns = meta.namespace ?? DEFAULT_NAMESPACE;
    const encoded = this.#codec.encode(raw, elementSize, ns, key);
    const store = (enc: Buffer) => tier.put(key, enc, meta);
    if (!(encoded instanceof Promise)) {
      const r = store(encoded);
      if (!(r instanceof Promise)) return undefined;
      const p = r.catch((err) => this.#failed(tier, err));
      if (tier.shared) this.#track(p);
      return tier.shared ? undefined : p;
    }
    const d: Draining | undefined = tier.shared || this.#codec.callbackCipher ? undefined : { tier, key, raw, elementSize, meta, done: false };
    if (d) this.#drain(d);
    const p = encoded.then((enc) => {
      if (d?.done) return undefined;
      if (d) this.#draining.delete(d);
      return store(enc);
    }).catch((err) => this.#failed(tier, err));
    this.#track(p);
    return tier.shared ? undefined : p;
  }

  /** Keeps `d` so that an exit before its encoding ends encodes and queues it synchronously. */
  #drain(d: Draining): void {
    this.#draining.add(d);
    this.#unregisterExit ??= atExit('drain', () => {
      for (const x of this.#draining) {
        x.done = true;
        void x.tier.put(x.key, this.#codec.encodeSync(x.raw, x.elementSize, x.meta.namespace ?? DEFAULT_NAMESPACE, x.key), x.meta);
      }
      this.#draining.clear();
    });
  }

  /** Stops watching for exit (the cache is closed and flushed). */
  close(): void {
    this.#unregisterExit?.();
  }
}
