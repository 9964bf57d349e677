// tensorCache(options): one decorator for a function, a class method, or a class (wrapping its
// `forward`), as a TypeScript standard decorator, a legacy decorator, or a plain call. Each
// wrapped function and each instance gets its own cache handle and module hash (key.ts says
// what that hash covers).
import { resolve } from 'node:path';
import type { Cache, CacheStats } from '../cache.js';
import { invalidType } from '../errors.js';
import { logDebug } from '../log.js';
import { storeOfCache } from '../ort/store.js';
import { TensorMemo, type CacheDtype, type MemoStats } from './batch.js';
import { functionCode, HINT_DEPENDS_ON, HINT_INSTANCE, identityDigest, instanceCode, instanceState, moduleHashOf, type ModuleIdentity } from './key.js';
import { buildCache, checkOptions, mergeOptions, type TensorCacheOptions } from './options.js';

/** What `.cache` gives on a wrapped function or a decorated instance. */
export interface TensorCacheHandle {
  /** Hash of the code, instance identity, declared dependencies and storage options that results are keyed under. */
  readonly moduleHash: string;
  /** This function's (or instance's) counters since it was wrapped, with those of its Cache. */
  stats(): MemoStats;
  /** Removes this module's results (memory and disk). */
  clear(): Promise<void>;
  /** Waits for background writes (results, and the recorded facts of files named by `contentOf`) to reach every tier. */
  flush(): Promise<void>;
}

type AnyFn = (...args: unknown[]) => unknown;
type Ctor = abstract new (...args: never[]) => unknown;

function makeHandle(memo: TensorMemo): TensorCacheHandle {
  return {
    moduleHash: memo.moduleHash,
    stats: () => memo.stats(),
    async flush() {
      // The facts of files named by contentOf are recorded in the background too (ort/filememo.ts).
      await storeOfCache(memo.cache).settled();
      await memo.cache.flush();
    },
    async clear() {
      // Exactly this module's entries, in every tier: a Cache or directory may be shared.
      await memo.cache.deleteNamespace(memo.namespace);
    },
  };
}

/** A memo once its identity is known; a promise while files named by dependsOn are hashed. */
type MemoSlot = TensorMemo | Promise<TensorMemo>;

/**
 * Builds the memo of a module from identity digests that may still be hashing files. A failure
 * (a missing file) is thrown to the caller and retried at the next call.
 */
function settle(parts: (string | null | Promise<string>)[], make: (digests: (string | null)[]) => TensorMemo, onFail: () => void): MemoSlot {
  if (parts.every((p) => !(p instanceof Promise))) return make(parts as (string | null)[]);
  return Promise.all(parts).then(make, (err) => {
    onFail();
    throw err;
  });
}

/** Per-instance state of a decorated method or class. */
interface InstanceState {
  memo?: MemoSlot;
  handle?: TensorCacheHandle;
  /** Class form: digest of the constructor arguments, taken at construction. */
  ctorDigest?: string | Promise<string> | null;
  cache?: Cache;
  /** The instance's `tensorcache` property last seen, and the options it gave. */
  own?: { value: unknown; options: TensorCacheOptions };
}
const instances = new WeakMap<object, InstanceState>();

function stateOf(self: object): InstanceState {
  let st = instances.get(self);
  if (!st) {
    st = {};
    instances.set(self, st);
  }
  return st;
}

function instanceOptions(self: object, base: TensorCacheOptions): TensorCacheOptions {
  const own = (self as { tensorcache?: unknown }).tensorcache;
  if (own === undefined) return base;
  const st = stateOf(self);
  if (st.own?.value !== own) st.own = { value: own, options: mergeOptions(base, own) };
  return st.own.options;
}

function instanceMemo(self: object, method: string, opts: TensorCacheOptions): MemoSlot {
  const st = stateOf(self);
  if (st.memo) return st.memo;
  st.cache ??= buildCache(opts);
  const cache = st.cache;
  const kind = st.ctorDigest !== undefined ? 'class' : 'method';
  let instance: string | null | Promise<string> = null;
  if (opts.moduleHash === undefined) {
    if (opts.instanceKey) instance = identityDigest(opts.instanceKey(self), 'instanceKey(self)', HINT_INSTANCE, cache);
    else if (kind === 'class') instance = st.ctorDigest!;
    else instance = identityDigest(instanceState(self), 'this', HINT_INSTANCE, cache);
  }
  const deps = opts.dependsOn === undefined ? null : identityDigest(opts.dependsOn, 'options.dependsOn', HINT_DEPENDS_ON, cache);
  const identity = { kind, code: instanceCode(self), method, cacheDtype: opts.cacheDtype, ...(opts.moduleHash !== undefined ? { fixed: opts.moduleHash } : {}) } as const;
  st.memo = settle(
    [instance, deps],
    ([inst, dependencies]) => {
      const memo = new TensorMemo(cache, moduleHashOf({ ...identity, instance: inst, dependencies }), opts.cacheDtype, opts.rows);
      st.memo = memo;
      st.handle = makeHandle(memo);
      defineInstanceHandle(self); // legacy decorators have no initializer hook: do it on first call
      logDebug(`tensorCache: ${self.constructor?.name}.${method} module hash ${memo.moduleHash}`);
      return memo;
    },
    () => {
      st.memo = undefined;
    },
  );
  return st.memo;
}

function wrapMethod(original: AnyFn, method: string, base: TensorCacheOptions): AnyFn {
  const wrapped = async function (this: object, ...args: unknown[]): Promise<unknown> {
    const opts = instanceOptions(this, base);
    if (opts.enabled === false) return original.apply(this, args);
    const slot = instanceMemo(this, method, opts);
    return (slot instanceof TensorMemo ? slot : await slot).call(original, this, args);
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

/**
 * A wrapped function's type: the same parameters, a `Promise` of its (awaited) result whether or
 * not it was async, plus `.cache`.
 *
 * @typeParam F - the type of the function that was wrapped.
 */
export type Memoized<F extends (...args: never[]) => unknown> = ((this: ThisParameterType<F>, ...args: Parameters<F>) => Promise<Awaited<ReturnType<F>>>) & {
  /**
   * The function's cache handle (stats, clear, flush). Reading it before the first call throws a
   * TypeError when `dependsOn` names files, whose content is hashed at the first call.
   */
  readonly cache: TensorCacheHandle;
};

/**
 * Caches tensor results per sample. Use it on a function, an async method or a class:
 *
 * @example
 * const embed = tensorCache({ persistent: true, dependsOn: [session] })(async (ids: Tensor) => session.run({ ids }));
 * class Encoder { @tensorCache() async forward(x: Tensor, mode: string) { ... } }
 * @tensorCache({ maxMemoryBytes: 2e9 }) class Teacher { constructor(cfg) {...} async forward(x) {...} }
 *
 * Tensor arguments (positional, or members of a feeds object) and arrays declared in `rows` share
 * the batch size along dim 0; every sample is keyed by its rows (with dtype and row shape), all
 * other arguments, and the module hash (code, instance identity, `dependsOn`, storage options).
 * Hits come from the cache, misses run as one sub-batch, outputs come back in the caller's order.
 * What a function reads besides its arguments (a closure's state) must be declared in `dependsOn`.
 */
export function tensorCache(options?: TensorCacheOptions) {
  const base = checkOptions('options', options);
  function decorate<T>(target: T, context?: unknown): T {
    // Standard (TC39) decorators: (value, context with `kind`).
    if (context && typeof context === 'object' && 'kind' in (context as object)) {
      const ctx = context as { kind: string; name: string | symbol; addInitializer(fn: (this: object) => void): void };
      if (ctx.kind === 'method') {
        checkFormOptions('method', base);
        ctx.addInitializer(function (this: object) {
          defineInstanceHandle(this);
        });
        return wrapMethod(target as AnyFn, String(ctx.name), base) as T;
      }
      if (ctx.kind === 'class') return decorateClass(target as unknown as Ctor, base) as T;
      throw invalidType('tensorCache target', 'a function, a method or a class', ctx.kind);
    }
    // Legacy decorators: (prototype, key, descriptor).
    if (context !== undefined && (typeof context === 'string' || typeof context === 'symbol')) {
      const desc = arguments[2] as PropertyDescriptor | undefined;
      if (!desc || typeof desc.value !== 'function') throw invalidType('tensorCache target', 'a method', desc?.value);
      checkFormOptions('method', base);
      desc.value = wrapMethod(desc.value as AnyFn, String(context), base);
      return desc as unknown as T;
    }
    if (typeof target !== 'function') throw invalidType('tensorCache target', 'a function, a method or a class', target);
    if (/^class[\s{]/.test(Function.prototype.toString.call(target))) return decorateClass(target as unknown as Ctor, base) as T;
    return decorateFunction(target as unknown as AnyFn, base) as T;
  }
  return decorate as {
    /**
     * Wraps a function, or (as a standard decorator) a method.
     *
     * @typeParam F - the type of the function or method wrapped.
     */
    <F extends (...args: never[]) => unknown>(fn: F, context?: ClassMethodDecoratorContext): Memoized<F>;
    /**
     * Decorates a class: its `forward` method (or `options.method`) is wrapped, and each
     * instance is identified by its constructor arguments (or `options.instanceKey`).
     *
     * @typeParam C - the class decorated; the result is a subclass of the same type.
     */
    <C extends Ctor>(cls: C, context?: ClassDecoratorContext): C;
    /** A legacy (`experimentalDecorators`) method decorator. */
    (target: object, key: string | symbol, descriptor: PropertyDescriptor): PropertyDescriptor;
  };
}

/** Options that only one form reads are refused on the others (they would be silently ignored). */
function checkFormOptions(form: 'function' | 'method', o: TensorCacheOptions): void {
  if (o.method !== undefined) throw invalidType('options.method', `no method option on a ${form} (it names the method of a decorated class)`, o.method);
  if (form === 'function' && o.instanceKey !== undefined) {
    throw invalidType('options.instanceKey', 'no instanceKey on a function (it identifies instances of a decorated class or method)', o.instanceKey);
  }
}

// Functions wrapped without dependsOn, by (storage they share, module hash): two closures of one
// factory have one source, so sharing a dir or a Cache they would serve each other's results.
const undeclared = new Map<string, WeakRef<Function>>();
const cacheIds = new WeakMap<Cache, number>();
let nextCacheId = 0;

function sharedStorageOf(o: TensorCacheOptions): string | undefined {
  if (o.cache) {
    if (!cacheIds.has(o.cache)) cacheIds.set(o.cache, nextCacheId++);
    return `cache#${cacheIds.get(o.cache)}`;
  }
  return o.dir !== undefined ? `dir:${resolve(o.dir)}` : undefined; // a private cache is shared with nobody
}

function checkUndeclaredTwin(fn: Function, o: TensorCacheOptions, moduleHash: string): void {
  const storage = sharedStorageOf(o);
  if (o.dependsOn !== undefined || o.moduleHash !== undefined || storage === undefined) return;
  const id = `${storage}\0${moduleHash}`;
  const other = undeclared.get(id)?.deref();
  if (other && other !== fn) {
    throw invalidType(
      'options.dependsOn',
      `a declaration: another function with the same source already stores into ${o.cache ? 'this Cache' : o.dir}, and closures of one source over different values would serve each other's results; declare the values this one captures with dependsOn: [...] (dependsOn: [] if it captures nothing that changes its results)`,
      undefined,
    );
  }
  undeclared.set(id, new WeakRef(fn));
}

function decorateFunction(fn: AnyFn, base: TensorCacheOptions): Memoized<AnyFn> {
  checkFormOptions('function', base);
  const identity: Omit<ModuleIdentity, 'dependencies'> = {
    kind: 'function', code: functionCode(fn, 'tensorCache target'), method: fn.name, instance: null, cacheDtype: base.cacheDtype,
    ...(base.moduleHash !== undefined ? { fixed: base.moduleHash } : {}),
  };
  if (base.dependsOn === undefined) checkUndeclaredTwin(fn, base, moduleHashOf({ ...identity, dependencies: null }));
  let built: Cache | undefined;
  let slot: MemoSlot | undefined;
  let handle: TensorCacheHandle | undefined;
  const init = (): MemoSlot => {
    if (slot) return slot;
    built ??= buildCache(base);
    const cache = built;
    const deps = base.dependsOn === undefined ? null : identityDigest(base.dependsOn, 'options.dependsOn', HINT_DEPENDS_ON, cache);
    slot = settle(
      [deps],
      ([dependencies]) => {
        const memo = new TensorMemo(cache, moduleHashOf({ ...identity, dependencies }), base.cacheDtype, base.rows);
        slot = memo;
        handle = makeHandle(memo);
        logDebug(`tensorCache: ${fn.name || 'anonymous function'} module hash ${memo.moduleHash}`);
        return memo;
      },
      () => {
        slot = undefined;
      },
    );
    return slot;
  };
  const wrapped = async function (this: unknown, ...args: unknown[]): Promise<unknown> {
    if (base.enabled === false) return fn.apply(this, args);
    const s = init();
    return (s instanceof TensorMemo ? s : await s).call(fn, this, args);
  };
  Object.defineProperty(wrapped, 'name', { value: fn.name });
  Object.defineProperty(wrapped, 'cache', {
    enumerable: false,
    get() {
      init();
      if (!handle) throw invalidType('cache', 'a first call of the function (dependsOn names files, hashed at the first call)', 'no call yet');
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
      const st = stateOf(this);
      st.ctorDigest = null;
      if (own.moduleHash === undefined && own.instanceKey === undefined) {
        // Taken now, as the instance was made, and failing here, naming the argument that has no encoding.
        const digest = identityDigest(args, 'constructor arguments', HINT_INSTANCE, undefined);
        if (digest instanceof Promise) digest.catch(() => {}); // reported at the first call
        st.ctorDigest = digest;
      }
      defineInstanceHandle(this);
    }
  };
  Object.defineProperty(Decorated, 'name', { value: cls.name });
  Object.defineProperty(Decorated.prototype, method, {
    value: wrapMethod(original as AnyFn, method, base),
    writable: true,
    configurable: true,
  });
  return Decorated as unknown as Ctor;
}

export type { MemoStats, CacheDtype, CacheStats };
