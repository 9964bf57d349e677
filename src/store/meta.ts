// What a caller attaches to an entry, checked at the call: `kind` a short string, `meta` a plain
// JSON object (stored in index records, heads and manifests, and read back as it was given).
// A value JSON would drop or change silently (a function, undefined, NaN, a Date) is refused.
import { described, invalidType, outOfRange } from '../errors.js';

const MAX_KIND = 256;
const MAX_META_BYTES = 64 * 1024;
const MAX_DEPTH = 32;

function jsonSafe(v: unknown, depth: number): string | undefined {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : `the number ${v}`;
  if (depth > MAX_DEPTH) return `nesting deeper than ${MAX_DEPTH}`;
  if (Array.isArray(v)) {
    for (const x of v) {
      const why = jsonSafe(x, depth + 1);
      if (why) return why;
    }
    return undefined;
  }
  if (typeof v === 'object' && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null)) {
    for (const x of Object.values(v as object)) {
      const why = jsonSafe(x, depth + 1);
      if (why) return why;
    }
    return undefined;
  }
  return typeof v === 'object' ? `an instance of ${(v as object).constructor?.name ?? 'a class'}` : `a ${typeof v}`;
}

/** Returns `meta` when it is a plain JSON object of at most 64 KiB; a TypeError/RangeError naming `name` otherwise. */
export function checkMeta(meta: unknown, name = 'options.meta'): Record<string, unknown> | undefined {
  if (meta === undefined) return undefined;
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) throw invalidType(name, 'a plain object of JSON values', meta);
  const why = jsonSafe(meta, 0);
  if (why) throw invalidType(name, 'a plain object of JSON values (strings, finite numbers, booleans, null, arrays, plain objects)', described(`an object holding ${why}`));
  const bytes = Buffer.byteLength(JSON.stringify(meta));
  if (bytes > MAX_META_BYTES) throw outOfRange(name, `at most ${MAX_META_BYTES} bytes of JSON`, described(`${bytes} bytes`));
  return meta as Record<string, unknown>;
}

/** Returns `kind` when it is a string of at most 256 characters; a TypeError naming `name` otherwise. */
export function checkKind(kind: unknown, name = 'options.kind'): string | undefined {
  if (kind === undefined) return undefined;
  if (typeof kind !== 'string' || kind.length > MAX_KIND) throw invalidType(name, `a string of at most ${MAX_KIND} characters`, kind);
  return kind;
}
