// Where modelcache reports what it degrades around (a corrupt entry, a failing tier): warnings go
// to a replaceable logger, at most once per minute per code so a broken disk cannot flood a log;
// debug lines appear with NODE_DEBUG=modelcache.
import { debuglog } from 'node:util';

/** Receives modelcache's warnings and debug lines. */
export interface Logger {
  /**
   * Something was degraded around (a corrupt entry dropped, a tier that failed and was treated as
   * a miss, an entry that could not be stored): the caller's result is still right, but the cache
   * is not doing its job. `code` is a stable string: a {@link CacheErrorCode} such as
   * `'ERR_CORRUPT'`, `'ERR_TIER'` or `'ERR_NO_SPACE'`, or one of `'ERR_TENSORCACHE_SHAPE'` (a
   * call ran uncached), `'ERR_TENSORCACHE_FIXED_HASH'` (code changes will not invalidate results)
   * and `'ERR_CONFIG_NOT_PORTABLE'` (a pipeline pass is cached locally only). `message` starts
   * with `modelcache: `. At most one warning per code per minute reaches the logger, so a broken
   * disk cannot flood a log. The default logger calls `process.emitWarning` with type
   * `'ModelcacheWarning'`.
   */
  warn(message: string, code: string): void;
  /**
   * A trace line (hits, misses, timings). A replaced logger receives every one, so build your own
   * filter if you only want warnings; the default logger prints them only with `NODE_DEBUG=modelcache`.
   */
  debug(message: string): void;
}

const debug = debuglog('modelcache');

const defaultLogger: Logger = {
  warn(message, code) {
    process.emitWarning(message, { type: 'ModelcacheWarning', code });
  },
  debug(message) {
    debug(message);
  },
};

let logger: Logger = defaultLogger;
// Read on every cache read: a variable, not a call into util (NODE_DEBUG is fixed at startup).
let debugOn = debug.enabled;
const lastWarned = new Map<string, number>();
const WARN_INTERVAL_MS = 60_000;

/** Replaces the logger (pass `undefined` to restore the default). */
export function setLogger(next: Logger | undefined): void {
  logger = next ?? defaultLogger;
  debugOn = next !== undefined || debug.enabled;
  lastWarned.clear();
}

/** Warns, rate-limited per code. */
export function warn(code: string, message: string): void {
  const now = Date.now();
  const last = lastWarned.get(code);
  if (last !== undefined && now - last < WARN_INTERVAL_MS) return;
  lastWarned.set(code, now);
  logger.warn(`modelcache: ${message}`, code);
}

export function logDebug(message: string): void {
  logger.debug(message);
}

/** Whether debug lines go anywhere (NODE_DEBUG=modelcache, or a replaced logger): build them only then. */
export function debugEnabled(): boolean {
  return debugOn;
}
