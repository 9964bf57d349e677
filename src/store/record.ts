// The index record of a disk entry, in a fixed binary layout (no shared encoder state between
// processes, and a decode that costs a few DataView reads on the hot get path).
//
//   u8  version (1)        u8 flags (bit 0: value inline in LMDB)
//   f64 size               raw bytes the caller put
//   f64 stamp              last access (microsecond-resolution, unique per process)
//   f64 created            ms since epoch
//   u8[16] checksum        tree hash of the stored bytes
//   u16 + utf8 kind        u16 + utf8 file name (empty when inline)
//   u32 + utf8 meta JSON   (empty when none)
import { CacheError } from '../errors.js';

const VERSION = 1;
const FIXED = 2 + 8 * 3 + 16;

export interface DiskRecord {
  inline: boolean;
  size: number;
  stamp: number;
  created: number;
  /** 32 hex chars. */
  checksum: string;
  kind: string;
  /** File name under blobs/xx/yy/ ('' when inline). */
  file: string;
  meta: Record<string, unknown> | undefined;
}

export function encodeRecord(r: DiskRecord): Buffer {
  const kind = Buffer.from(r.kind, 'utf8');
  const file = Buffer.from(r.file, 'utf8');
  const meta = r.meta === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(r.meta), 'utf8');
  const out = Buffer.allocUnsafe(FIXED + 2 + kind.length + 2 + file.length + 4 + meta.length);
  out[0] = VERSION;
  out[1] = r.inline ? 1 : 0;
  out.writeDoubleLE(r.size, 2);
  out.writeDoubleLE(r.stamp, 10);
  out.writeDoubleLE(r.created, 18);
  out.write(r.checksum, 26, 16, 'hex');
  let o = FIXED;
  out.writeUInt16LE(kind.length, o);
  kind.copy(out, o + 2);
  o += 2 + kind.length;
  out.writeUInt16LE(file.length, o);
  file.copy(out, o + 2);
  o += 2 + file.length;
  out.writeUInt32LE(meta.length, o);
  meta.copy(out, o + 4);
  return out;
}

function corrupt(what: string): never {
  throw new CacheError('ERR_CORRUPT', `index record is damaged: ${what}`);
}

export function decodeRecord(b: Buffer): DiskRecord {
  if (b.length < FIXED + 8 || b[0] !== VERSION) corrupt('bad version or length');
  let o = FIXED;
  const kindLen = b.readUInt16LE(o);
  if (o + 2 + kindLen + 2 > b.length) corrupt('kind');
  const kind = b.toString('utf8', o + 2, o + 2 + kindLen);
  o += 2 + kindLen;
  const fileLen = b.readUInt16LE(o);
  if (o + 2 + fileLen + 4 > b.length) corrupt('file');
  const file = b.toString('utf8', o + 2, o + 2 + fileLen);
  o += 2 + fileLen;
  const metaLen = b.readUInt32LE(o);
  if (o + 4 + metaLen !== b.length) corrupt('meta');
  let meta: Record<string, unknown> | undefined;
  if (metaLen > 0) {
    try {
      meta = JSON.parse(b.toString('utf8', o + 4, o + 4 + metaLen)) as Record<string, unknown>;
    } catch {
      corrupt('meta JSON');
    }
  }
  return {
    inline: (b[1] & 1) === 1,
    size: b.readDoubleLE(2),
    stamp: b.readDoubleLE(10),
    created: b.readDoubleLE(18),
    checksum: b.toString('hex', 26, 42),
    kind,
    file,
    meta,
  };
}
