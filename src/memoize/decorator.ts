// tensorCache(options): one decorator for a function, a class method, or a class (wrapping its
// `forward`), as a TypeScript standard decorator, a legacy decorator, or a plain call. Each
// wrapped function and each instance gets its own cache handle and module hash.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cache, type CacheStats } from '../cache.js';
import type { Codec } from '../codec.js';
import { checkInteger, checkOptionNames, invalidType } from '../errors.js';
import { hash } from '../hash.js';
import { encodeKey } from '../keys.js';
import { logDebug, warn } from '../log.js';
import { DiskTier } from '../store/disk/tier.js';
import { ENTRY_VERSION } from './entry.js';
import { TensorMemo, type CacheDtype, type MemoStats } from './batch.js';

/** Options of {@link tensorCache}. An instance's `tensorcache` property may override any of them. */
export interface TensorCacheOptions {
  /** Keep results on disk too. Without `dir`, a temporary directory removed at process exit. */
  persistent?: boolean;
  /** Disk cache directory (implies `persistent`). */
  dir?: string;
  /** Memory tier size. Default 1 GB. */
  maxMemoryBytes?: number;
  /** Disk tier size. Default 10 GB. */
  maxDiskBytes?: number;
  /** Codec for the disk tier: a name or `{ codec, level }`. Default zstd level 1 with byte-shuffle. */
  compression?: Codec | { codec: Codec; level?: number };
  /** Store float32 outputs as float16 or bfloat16 (returned as float32 again). */
  cacheDtype?: CacheDtype;
  /** A fixed module hash: code changes then do NOT invalidate cached results (a warning says so). */
  moduleHash?: string;
  /** false: call straight through, no caching. Default true. */
  enabled?: boolean;
  /** Class form: the method to wrap. Default 'forward'. */
  method?: string;
  /** Share an existing Cache instead of creating one. */
  cache?: Cache;
}

const OPTION_NAMES = [
  'persistent', 'dir', 'maxMemoryBytes', 'maxDiskBytes', 'compression', 'cacheDtype', 'moduleHash', 'enabled', 'method', 'cache',
] as const;

/** What `.cache` gives on a wrapped function or a decorated instance. */
export interface TensorCacheHandle {
  /** Hash of the code, constructor arguments and storage options that results are keyed under. */
  readonly moduleHash: string;
  stats(): MemoStats;
  /** Removes this module's results (memory and disk). */
  clear(): Promise<void>;
  /** Waits for background writes to reach every tier. */
  flush(): Promise<void>;
}

type AnyFn = (...args: unknown[]) => unknown;
type Ctor = abstract new (...args: never[]) => unknown;

function checkOptions(name: string, o: unknown): TensorCacheOptions {
  if (o === undefined) return {};
  if (o === null || typeof o !== 'object') throw invalidType(name, 'object', o);
  checkOptionNames(name, o, OPTION_NAMES);
  const opts = o as TensorCacheOptions;
  if (opts.cacheDtype !== undefined && opts.cacheDtype !== 'float16' && opts.cacheDtype !== 'bfloat16') {
    throw invalidType(`${name}.cacheDtype`, "'float16' or 'bfloat16'", opts.cacheDtype);
  }
  if (opts.moduleHash !== undefined && (typeof opts.moduleHash !== 'string' || opts.moduleHash.length === 0)) {
    throw invalidType(`${name}.moduleHash`, 'non-empty string', opts.moduleHash);
  }
  if (opts.dir !== undefined && (typeof opts.dir !== 'string' || opts.dir.length === 0)) throw invalidType(`${name}.dir`, 'non-empty string', opts.dir);
  if (opts.maxMemoryBytes !== undefined) checkInteger(`${name}.maxMemoryBytes`, opts.maxMemoryBytes, 0, Number.MAX_SAFE_INTEGER);
  if (opts.maxDiskBytes !== undefined) checkInteger(`${name}.maxDiskBytes`, opts.maxDiskBytes, 0, Number.MAX_SAFE_INTEGER);
  if (opts.method !== undefined && typeof opts.method !== 'string') throw invalidType(`${name}.method`, 'string', opts.method);
  if (opts.cache !== undefined && !(opts.cache instanceof Cache)) throw invalidType(`${name}.cache`, 'a Cache', opts.cache);
  if (opts.enabled !== undefined && typeof opts.enabled !== 'boolean') throw invalidType(`${name}.enabled`, 'boolean', opts.enabled);
  return opts;
}

/** Source text of a class and every base class up to (not including) Function.prototype. */
function classSources(cls: Function): string[] {
  const out: string[] = [];
  for (let c: unknown = cls; typeof c === 'function' && c !== Function.prototype; c = Object.getPrototypeOf(c)) {
    out.push(Function.prototype.toString.call(c));
  }
  return out;
}

/**
 * The module hash: code (function source, or class and base classes), constructor arguments,
 * the method name, and what changes stored bytes (cacheDtype, entry format).
 */
function moduleHashOf(kind: string, code: string[], method: string, ctorArgs: unknown[] | undefined, opts: TensorCacheOptions): string {
  const storage = { cacheDtype: opts.cacheDtype ?? null, entryVersion: ENTRY_VERSION };
  if (opts.moduleHash !== undefined) {
    warn('ERR_TENSORCACHE_FIXED_HASH', `tensorCache: fixed moduleHash ${JSON.stringify(opts.moduleHash)}: code changes will not invalidate cached results`);
    return hash(encodeKey('tensorCache-module', ['fixed', opts.moduleHash, method, storage]).bytes);
  }
  return hash(encodeKey('tensorCache-module', [kind, code, method, ctorArgs ?? null, storage], 'constructor arguments').bytes);
}

const tempDirs: string[] = [];
let exitHook = false;
function temporaryDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'modelcache-tensors-'));
  tempDirs.push(dir);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
    });
  }
  return dir;
}

function buildCache(opts: TensorCacheOptions): { cache: Cache; owned: boolean } {
  if (opts.cache) return { cache: opts.cache, owned: false };
  const persistent = opts.persistent ?? opts.dir !== undefined;
  const codec = typeof opts.compression === 'string' ? { codec: opts.compression } : (opts.compression ?? { codec: 'zstd' as Codec, level: 1 });
  const cache = new Cache({
    dir: persistent ? (opts.dir ?? temporaryDir()) : false,
    maxMemoryBytes: opts.maxMemoryBytes ?? 1e9,
    ...(opts.maxDiskBytes !== undefined ? { maxDiskBytes: opts.maxDiskBytes } : {}),
    compression: codec,
  });
  return { cache, owned: true };
}

function makeHandle(memo: TensorMemo, owned: boolean): TensorCacheHandle {
  return {
    moduleHash: memo.moduleHash,
    stats: () => memo.stats(),
    flush: () => memo.cache.flush(),
    async clear() {
      await memo.cache.flush();
      if (owned) {
        await memo.cache.clear();
        return;
      }
      // A shared cache: remove only this module's entries.
      for (const tier of memo.cache.tiers) {
        if (tier instanceof DiskTier) {
          const mine = [...tier.list()].filter((e) => e.meta?.module === memo.moduleHash).map((e) => e.key);
          for (const k of mine) await memo.cache.delete(k);
        } else {
          await tier.clear?.();
        }
      }
    },
  };
}

/** Per-instance state of a decorated method or class. */
interface InstanceState {
  memo?: TensorMemo;
  handle?: TensorCacheHandle;
  ctorArgs?: unknown[];
}
const instances = new WeakMap<object, InstanceState>();

function instanceOptions(self: object, base: TensorCacheOptions): TensorCacheOptions {
  const own = (self as { tensorcache?: unknown }).tensorcache;
  if (own === undefined) return base;
  return { ...base, ...checkOptions('this.tensorcache', own) };
}

function instanceMemo(self: object, cls: Function, method: string, base: TensorCacheOptions): TensorMemo {
  let st = instances.get(self);
  if (!st) {
    st = {};
    instances.set(self, st);
  }
  if (!st.memo) {
    const opts = instanceOptions(self, base);
    const kind = st.ctorArgs ? 'class' : 'method';
    const mh = moduleHashOf(kind, classSources(cls), method, st.ctorArgs, opts);
    const { cache, owned } = buildCache(opts);
    st.memo = new TensorMemo(cache, mh, opts.cacheDtype);
    st.handle = makeHandle(st.memo, owned);
    defineInstanceHandle(self); // legacy decorators have no initializer hook: do it on first call
    logDebug(`tensorCache: ${cls.name}.${method} module hash ${mh}`);
  }
  return st.memo;
}

function wrapMethod(original: AnyFn, method: string, base: TensorCacheOptions, clsOf: (self: object) => Function): AnyFn {
  const wrapped = async function (this: object, ...args: unknown[]): Promise<unknown> {
    const opts = instanceOptions(this, base);
    if (opts.enabled === false) return original.apply(this, args);
    return instanceMemo(this, clsOf(this), method, base).call(original, this, args);
  };
  Object.defineProperty(wrapped, 'name', { value: original.name || method });
  return wrapped;
}

/** The handle of a decorated instance (also reachable as `instance.cache` unless the class defines `cache`). */
export function tensorCacheOf(instance: object): TensorCacheHandle | undefined {
  return instances.get(instance)?.handle;
}

const handleDefined = new WeakSet<object>();
function defineInstanceHandle(self: object): void {
  if (handleDefined.has(self)) return;
  handleDefined.add(self);
  if ('cache' in self) return; // the class has its own `cache`: use tensorCacheOf(instance)
  Object.defineProperty(self, 'cache', {
    configurable: true,
    enumerable: false,
    get(this: object) {
      const st = instances.get(this);
      if (!st?.handle) throw invalidType('instance.cache', 'a call of the decorated method first', 'no call yet');
      return st.handle;
    },
  });
}

/** The wrapped function's type: same call signature, plus `.cache`. */
export type Memoized<F> = F & { readonly cache: TensorCacheHandle };

/**
 * Caches tensor results per sample. Use it on a function, a method or a class:
 *
 * @example
 * const embed = tensorCache({ persistent: true })(async (ids: Tensor) => encoder.run({ ids }));
 * class Encoder { @tensorCache() async forward(x: Tensor, mode: string) { ... } }
 * @tensorCache({ maxMemoryBytes: 2e9 }) class Teacher { constructor(cfg) {...} async forward(x) {...} }
 *
 * Tensor arguments must share the batch size along dim 0; every sample is keyed by its rows
 * in every tensor argument (with dtype and row shape) and all other arguments. Hits come from
 * the cache, misses run as one sub-batch, and outputs come back in the caller's order.
 */
export function tensorCache(options?: TensorCacheOptions) {
  const base = checkOptions('options', options);
  function decorate<T>(target: T, context?: unknown): T {
    // Standard (TC39) decorators: (value, context with `kind`).
    if (context && typeof context === 'object' && 'kind' in (context as object)) {
      const ctx = context as { kind: string; name: string | symbol; addInitializer(fn: (this: object) => void): void };
      if (ctx.kind === 'method') {
        const name = String(ctx.name);
        let owner: Function | undefined;
        ctx.addInitializer(function (this: object) {
          owner ??= this.constructor;
          defineInstanceHandle(this);
        });
        return wrapMethod(target as AnyFn, name, base, (self) => owner ?? self.constructor) as T;
      }
      if (ctx.kind === 'class') return decorateClass(target as unknown as Ctor, base) as T;
      throw invalidType('tensorCache target', 'a function, a method or a class', ctx.kind);
    }
    // Legacy decorators: (prototype, key, descriptor).
    if (context !== undefined && (typeof context === 'string' || typeof context === 'symbol')) {
      const desc = arguments[2] as PropertyDescriptor | undefined;
      if (!desc || typeof desc.value !== 'function') throw invalidType('tensorCache target', 'a method', desc?.value);
      const cls = (target as { constructor: Function }).constructor;
      desc.value = wrapMethod(desc.value as AnyFn, String(context), base, () => cls);
      return desc as unknown as T;
    }
    if (typeof target !== 'function') throw invalidType('tensorCache target', 'a function, a method or a class', target);
    if (/^class[\s{]/.test(Function.prototype.toString.call(target))) return decorateClass(target as unknown as Ctor, base) as T;
    return decorateFunction(target as unknown as AnyFn, base) as T;
  }
  return decorate as {
    <F extends (...args: never[]) => unknown>(fn: F, context?: ClassMethodDecoratorContext | undefined): Memoized<F>;
    <C extends Ctor>(cls: C, context?: ClassDecoratorContext): C;
    (target: object, key: string | symbol, descriptor: PropertyDescriptor): PropertyDescriptor;
  };
}

function decorateFunction(fn: AnyFn, base: TensorCacheOptions): Memoized<AnyFn> {
  const mh = moduleHashOf('function', [Function.prototype.toString.call(fn)], fn.name, undefined, base);
  let memo: TensorMemo | undefined;
  let handle: TensorCacheHandle | undefined;
  const init = () => {
    if (!memo) {
      const { cache, owned } = buildCache(base);
      memo = new TensorMemo(cache, mh, base.cacheDtype);
      handle = makeHandle(memo, owned);
      logDebug(`tensorCache: ${fn.name || 'anonymous function'} module hash ${mh}`);
    }
    return memo;
  };
  const wrapped = async function (this: unknown, ...args: unknown[]): Promise<unknown> {
    if (base.enabled === false) return fn.apply(this, args);
    return init().call(fn, this, args);
  };
  Object.defineProperty(wrapped, 'name', { value: fn.name });
  Object.defineProperty(wrapped, 'cache', {
    enumerable: false,
    get() {
      init();
      return handle;
    },
  });
  return wrapped as unknown as Memoized<AnyFn>;
}

function decorateClass(cls: Ctor, base: TensorCacheOptions): Ctor {
  const method = base.method ?? 'forward';
  const original = (cls as unknown as { prototype: Record<string, unknown> }).prototype[method];
  if (typeof original !== 'function') {
    throw invalidType('options.method', `the name of a method of ${cls.name || 'the class'}`, method);
  }
  const Base = cls as unknown as new (...args: unknown[]) => object;
  const Decorated = class extends Base {
    constructor(...args: unknown[]) {
      super(...args);
      const own = instanceOptions(this, base);
      if (own.moduleHash === undefined) {
        // Fails here, at construction, naming the argument that has no canonical encoding.
        encodeKey('tensorCache-ctor', args, 'constructor arguments');
      }
      instances.set(this, { ...(instances.get(this) ?? {}), ctorArgs: args });
      defineInstanceHandle(this);
    }
  };
  Object.defineProperty(Decorated, 'name', { value: cls.name });
  Object.defineProperty(Decorated.prototype, method, {
    value: wrapMethod(original as AnyFn, method, base, () => cls as unknown as Function),
    writable: true,
    configurable: true,
  });
  return Decorated as unknown as Ctor;
}

export type { MemoStats, CacheDtype, CacheStats };
