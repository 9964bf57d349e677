// The description of a file entry, in one format for every tier: the disk tier's head file (read
// on a hit without opening the index) and the shared tier's manifest blob (the commit point of an
// upload). It names every file with its size and hash; the folder of the files on disk is derived
// from that list, never read from the bytes, so a tampered description can point nowhere else.
import { CacheError } from '../errors.js';
import { hash } from '../hash.js';
import { checkFileNames, isKey, isNamespace } from './namespace.js';
import type { FileEntryInfo, StoredFile } from './tier.js';

/** Format of entry descriptions; another format reads as a miss, never as a misread. */
export const MANIFEST_FORMAT = 1;

const HEX32 = /^[0-9a-f]{32}$/;

/** The content id of a set of files (names, sizes, hashes): the name of their folder on disk. */
export function filesId(files: readonly StoredFile[]): string {
  const sorted = [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return hash(JSON.stringify(sorted.map((f) => [f.name, f.size, f.hash])));
}

/** The description of `entry` as bytes (`extra` fields, such as the shared upload folder, added). */
export function encodeManifest(entry: FileEntryInfo, extra: Record<string, unknown> = {}): Buffer {
  const { namespace, key, kind, meta, created, size, encrypted, files } = entry;
  return Buffer.from(JSON.stringify({
    format: MANIFEST_FORMAT, namespace, key, kind, created, size, encrypted,
    files: files.map((f) => ({ name: f.name, size: f.size, hash: f.hash })),
    ...(meta !== undefined ? { meta } : {}), ...extra,
  }));
}

function bad(what: string): never {
  throw new CacheError('ERR_CORRUPT', `file entry description is invalid: ${what}`);
}

/**
 * Parses and checks a description read from a tier (every field, as bytes from anywhere), for
 * the entry `namespace`/`key`. Returns the entry and the raw object (for extra fields).
 */
export function parseManifest(bytes: Uint8Array | string, namespace: string, key: string): { entry: FileEntryInfo; raw: Record<string, unknown> } {
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as Record<string, unknown>;
  } catch {
    bad('not JSON');
  }
  if (m === null || typeof m !== 'object' || Array.isArray(m)) bad('not an object');
  if (m.format !== MANIFEST_FORMAT) bad(`format ${String(m.format)}, this modelcache reads ${MANIFEST_FORMAT}`);
  if (!isNamespace(m.namespace) || m.namespace !== namespace || !isKey(m.key) || m.key !== key) bad('namespace or key');
  if (typeof m.kind !== 'string' || m.kind.length > 256) bad('kind');
  if (typeof m.created !== 'number' || !Number.isFinite(m.created)) bad('created');
  if (typeof m.encrypted !== 'boolean') bad('encrypted');
  if (m.meta !== undefined && (m.meta === null || typeof m.meta !== 'object' || Array.isArray(m.meta))) bad('meta');
  if (!Array.isArray(m.files) || m.files.length === 0 || m.files.length > 100_000) bad('files');
  const files: StoredFile[] = [];
  let total = 0;
  for (const f of m.files as Record<string, unknown>[]) {
    if (f === null || typeof f !== 'object' || typeof f.hash !== 'string' || !HEX32.test(f.hash)) bad('file hash');
    if (!Number.isSafeInteger(f.size) || (f.size as number) < 0) bad('file size');
    files.push({ name: f.name as string, size: f.size as number, hash: f.hash as string });
    total += f.size as number;
  }
  try {
    checkFileNames(files.map((f) => f.name));
  } catch (err) {
    bad((err as Error).message);
  }
  if (m.size !== total) bad('size is not the sum of the file sizes');
  const entry: FileEntryInfo = {
    namespace, key, kind: m.kind as string, meta: m.meta as Record<string, unknown> | undefined,
    created: m.created as number, size: total, encrypted: m.encrypted as boolean, files,
  };
  return { entry, raw: m };
}
