// Where modelcache reports what it degrades around (a corrupt entry, a failing tier): warnings go
// to a replaceable logger, at most once per minute per code so a broken disk cannot flood a log;
// debug lines appear with NODE_DEBUG=modelcache.
import { debuglog } from 'node:util';

/** Receives modelcache's warnings and debug lines. */
export interface Logger {
  warn(message: string, code: string): void;
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
