// Where a session cache keeps its entries: a Cache (the caller's, or one built on first need from
// the options), and an index-free peek at its disk tier's heads for the hit path, so that a hit in
// a fresh process loads neither the storage stack nor lmdb-js. Everything that writes, repairs or
// records an access goes through the Cache; those writes run in the background and are tracked so
// that `closeSessionCaches()` can wait for them.
import { resolve } from 'node:path';
import type { Cache } from '../cache.js';
import type { Cipher } from '../cipher.js';
import { hash } from '../hash.js';
import { logDebug } from '../log.js';
import { defaultCacheDir } from '../paths.js';
import { peekFileEntry, touchFileEntry, type Peeked } from '../store/disk/peek.js';
import type { FileSource, PutMeta, Tier } from '../store/tier.js';
import type { CheckedCacheOptions } from './options.js';

/** A hit found by peeking is recorded through the Cache this long after it, off the start-up path. */
const ACCESS_DELAY_MS = 1000;

export class SessionStore {
  /** The disk tier's directory (undefined: the given Cache has no disk tier). */
  readonly dir: string | undefined;
  readonly #given: Cache | undefined;
  readonly #build: { dir: string; maxBytes: number | undefined; encryption: Cipher | undefined; shared: Tier | undefined } | undefined;
  #cache: Promise<Cache> | undefined;
  #ready: Cache | undefined;
  readonly #pending = new Set<Promise<unknown>>();
  readonly #hits = new Set<string>();
  #timer: NodeJS.Timeout | undefined;

  constructor(o: CheckedCacheOptions) {
    this.#given = o.cache;
    this.#ready = o.cache;
    if (o.cache) {
      this.dir = o.cache.disk?.dir;
    } else {
      this.dir = resolve(o.dir ?? defaultCacheDir());
      this.#build = { dir: this.dir, maxBytes: o.maxBytes, encryption: o.encryption, shared: o.shared };
    }
  }

  /**
   * Whether entries must be encrypted: known for a Cache built from options; undefined for the
   * caller's Cache (its entries are read as they are stored, and its cipher decides).
   */
  get encrypts(): boolean | undefined {
    return this.#build ? this.#build.encryption !== undefined : undefined;
  }

  /**
   * Whether the Cache may know entries a peek does not see: writes of this process not committed
   * yet (its Cache is open), or a shared tier.
   */
  get mayHaveMore(): boolean {
    return this.#ready !== undefined || this.#cache !== undefined || this.#build?.shared !== undefined;
  }

  /** The file entry `ns`/`key` from its head alone (no index): the hit path. */
  peek(ns: string, key: string): Peeked | undefined {
    return this.dir === undefined ? undefined : peekFileEntry(this.dir, ns, key);
  }

  /** The Cache: the caller's, or built (once) from the options. */
  cache(): Promise<Cache> {
    if (this.#given) return Promise.resolve(this.#given);
    this.#cache ??= import('../cache.js').then(({ Cache }) => {
      const b = this.#build!;
      this.#ready = new Cache({
        dir: b.dir,
        maxMemoryBytes: 0, // file entries never pass through a memory tier
        ...(b.maxBytes !== undefined ? { maxDiskBytes: b.maxBytes } : {}),
        ...(b.encryption !== undefined ? { encryption: b.encryption } : {}),
        ...(b.shared !== undefined ? { shared: b.shared } : {}),
      });
      return this.#ready;
    });
    return this.#cache;
  }

  /** Runs `work` with the Cache in the background; failures are logged, never thrown. */
  background(what: string, work: (cache: Cache) => Promise<unknown>): void {
    const p = this.cache().then(work).catch((err) => logDebug(`ort: ${what} failed: ${(err as Error).message}`));
    this.#pending.add(p);
    busy.add(this);
    void p.finally(() => {
      this.#pending.delete(p);
      if (this.#pending.size === 0) busy.delete(this);
    });
  }

  /** Stores a small file entry in the background (file memo records). */
  put(ns: string, key: string, files: FileSource[], meta: PutMeta): void {
    this.background(`write of ${ns}/${key}`, (cache) => cache.putFiles(key, files, { ...meta, namespace: ns }));
  }

  /**
   * Records a hit found by {@link peek}: at once on the entry's head (its access time for the LRU,
   * which survives a process that exits right away), and in the Cache (access time and hit
   * counters) at once when it is open already, else a moment later, off the start-up path.
   */
  recordHit(ns: string, key: string): void {
    if (this.dir !== undefined) touchFileEntry(this.dir, ns, key);
    this.#hits.add(`${ns}\0${key}`);
    if (this.#ready) return this.#flushHits();
    if (this.#timer) return;
    this.#timer = setTimeout(() => this.#flushHits(), ACCESS_DELAY_MS);
    this.#timer.unref();
  }

  #flushHits(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const hits = [...this.#hits].map((h) => h.split('\0') as [string, string]);
    this.#hits.clear();
    this.background('access record', (cache) => Promise.all(hits.map(([ns, key]) => cache.getFiles(key, { namespace: ns, verify: false, download: false }))));
  }

  /** Resolves when the background work started so far has ended and is committed (readable by a peek). */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
    await this.#ready?.disk?.flush();
  }

  /** Waits for background work, records pending hits and closes the Cache this store built. */
  async close(): Promise<void> {
    if (this.#hits.size > 0 && this.#cache) this.#flushHits();
    await this.settled();
    if (this.#cache && !this.#given) await (await this.#cache).close();
    this.#cache = undefined;
    this.#ready = undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

// One store per directory and configuration for the whole process (a Cache holds a handle on the
// directory; every session of a process shares the directory's LRU).
const stores = new Map<string, SessionStore>();
const givenStores = new WeakMap<Cache, SessionStore>();
// Stores with background work in flight (those over a caller's Cache included), for closeSessionStores().
const busy = new Set<SessionStore>();
const objectIds = new WeakMap<object, number>();
let nextObjectId = 1;

/** A number naming an object (a tier, callbacks) for as long as it lives. */
function identity(o: object | undefined): string {
  if (o === undefined) return '';
  let id = objectIds.get(o);
  if (id === undefined) objectIds.set(o, (id = nextObjectId++));
  return String(id);
}

/** A cipher as part of a map key: a built-in one by its algorithm and a digest of its key; callbacks by identity. */
function cipherId(c: Cipher | undefined): string {
  if (c === undefined) return '';
  if ('algorithm' in c) return `${c.algorithm}:${hash(typeof c.key === 'string' ? Buffer.from(c.key) : c.key)}`;
  return `callbacks:${identity(c)}`;
}

/** The store of these options (one per directory and configuration per process). */
export function sessionStore(o: CheckedCacheOptions): SessionStore {
  if (o.cache) {
    let s = givenStores.get(o.cache);
    if (!s) givenStores.set(o.cache, (s = new SessionStore(o)));
    return s;
  }
  const id = [resolve(o.dir ?? defaultCacheDir()), o.maxBytes ?? '', cipherId(o.encryption), identity(o.shared)].join('\0');
  let s = stores.get(id);
  if (!s) stores.set(id, (s = new SessionStore(o)));
  return s;
}

/** The store over a Cache the caller has (tensorCache's file memo uses it too). */
export function storeOfCache(cache: Cache): SessionStore {
  return sessionStore({ dir: undefined, cache, shared: undefined, mode: 'speed', format: 'auto', encryption: undefined, maxBytes: undefined, wait: false });
}

/**
 * Waits for the background work of every session cache of this process (entries being saved,
 * access records) and closes the Caches they opened (a Cache passed in `options.cache` stays open).
 */
export async function closeSessionStores(): Promise<void> {
  await Promise.all([...busy].map((s) => s.settled()));
  const all = [...stores.values()];
  stores.clear();
  await Promise.all(all.map((s) => s.close()));
}
