// Fuzz target (scripts/fuzz-js.mjs) for the disk tier's index record decoder (store/disk/record),
// which reads bytes any process with access to the cache directory may have written. Bad bytes
// must end in CacheError ERR_CORRUPT; a record that is accepted must describe something the tier
// can act on safely: a content id that names a path inside the cache (32 hex), sizes that are safe
// integers, an inline value of exactly its size, metadata that is a plain object, and it must
// encode back to a record that decodes to itself.
import { isDeepStrictEqual } from 'node:util';
import { CacheError } from '../../dist/errors.js';
import { decodeRecord, encodeRecord, RECORD_FIXED, valueOffset } from '../../dist/store/disk/record.js';

function bug(what, input) {
  throw new Error(`${what}: ${input.toString('hex').slice(0, 400)}`);
}

export function run(input) {
  let rec;
  let off;
  try {
    off = valueOffset(input);
    rec = decodeRecord(input);
  } catch (err) {
    if (err instanceof CacheError && err.code === 'ERR_CORRUPT') return;
    throw err;
  }
  if (![0, 1, 2].includes(rec.type)) bug(`accepted type ${rec.type}`, input);
  if (!/^[0-9a-f]{32}$/.test(rec.hash)) bug(`accepted a content id that is no 32-hex name (${rec.hash})`, input);
  if (!Number.isSafeInteger(rec.size) || rec.size < 0) bug(`accepted a size of ${rec.size}`, input);
  if (!Number.isFinite(rec.created)) bug(`accepted a creation time of ${rec.created}`, input);
  if (rec.meta !== undefined && (rec.meta === null || typeof rec.meta !== 'object' || Array.isArray(rec.meta))) bug(`accepted meta ${JSON.stringify(rec.meta)}`, input);
  if (off < RECORD_FIXED || off > input.length) bug(`value offset ${off} outside the record`, input);
  const value = rec.type === 0 ? input.subarray(off) : undefined;
  if (rec.type === 0 && value.length !== rec.size) bug(`accepted an inline value of ${value.length} bytes for a size of ${rec.size}`, input);
  if (rec.type !== 0 && off !== input.length) bug('accepted trailing bytes after a file record', input);
  const again = decodeRecord(encodeRecord(rec, value));
  if (!isDeepStrictEqual(again, rec)) bug('an accepted record does not encode back to itself', input);
}

const DOUBLES = [-1, 0, 1, 1.5, 2 ** 53, 2 ** 53 + 2, 1e300, -1e18, NaN, Infinity, -0];

/** Structure-aware mutation: one fixed field (version, type, lengths, size, time) set to an edge value. */
export function mutate(input, r) {
  if (input.length < RECORD_FIXED) return input;
  const b = Buffer.from(input);
  switch (r.below(6)) {
    case 0:
      b[0] = r.pick([0, 1, 2, 3, 255]);
      break;
    case 1:
      b[1] = r.pick([0, 1, 2, 3, 255]);
      break;
    case 2:
      b.writeUInt16LE(r.pick([0, 1, (b.readUInt16LE(2) + 1) & 0xffff, 0xffff]), 2);
      break;
    case 3:
      b.writeDoubleLE(r.pick(DOUBLES), 4);
      break;
    case 4:
      b.writeDoubleLE(r.pick(DOUBLES), 12);
      break;
    default:
      b.writeUInt32LE(r.pick([0, 1, (b.readUInt32LE(36) + 1) >>> 0, 0xffffffff, b.length]), 36);
  }
  return b;
}
