// The queued writes of a disk tier, built from what a caller gives: a value (inline in its record,
// or written to a work file now, so that the caller's buffer is not kept and the bytes survive an
// exit), an existing file, or a file entry (its files prepared in a work folder, its head written
// before the commit that publishes it). A write that cannot be prepared is refused: counted in the
// tier's `rejected`, warned about by the store, and nothing of it is left behind.
import { hashFile, treeHash } from '../../hash.js';
import type { FileSource, PutFilesMeta, PutMeta } from '../tier.js';
import { isWorkFile, prepareFiles, stageFile, writeHead } from './files.js';
import { unlinkQuietly, writeNewFile } from './layout.js';
import type { PutOp } from './queue.js';
import { BLOB, encodeRecord, FILES, INLINE } from './record.js';
import type { DiskStore } from './store.js';

function refused(store: DiskStore, op: string, err: unknown): undefined {
  store.stats.rejected++;
  store.fail(op, err);
  return undefined;
}

/** The op of a value: inline up to `inlineThreshold` bytes, else a blob file written now. */
export function valueOp(store: DiskStore, ns: string, key: string, bytes: Uint8Array, meta: PutMeta, inlineThreshold: number): PutOp | undefined {
  const hash = treeHash(bytes);
  const type = bytes.byteLength <= inlineThreshold ? INLINE : BLOB;
  const record = encodeRecord({ type, size: bytes.byteLength, created: Date.now(), hash, kind: meta.kind ?? '', meta: meta.meta }, type === INLINE ? bytes : undefined);
  const op: PutOp = { ns, key, type, record, size: bytes.byteLength, hash };
  if (type === BLOB) {
    const layout = store.layout;
    try {
      layout.ensure();
      op.blobFile = layout.workPath();
      writeNewFile(op.blobFile, bytes, store.durable);
    } catch (err) {
      unlinkQuietly([op.blobFile]); // a partial file would keep a full disk full
      return refused(store, 'put', err);
    }
  }
  return op;
}

/** The op of an existing file of `size` bytes published as a value: moved in when it is a work file of this cache, else copied. Throws on I/O errors. */
export async function fileOp(store: DiskStore, ns: string, key: string, path: string, size: number, meta: PutMeta): Promise<PutOp> {
  const hash = await hashFile(path);
  const blobFile = await stageFile(store.layout, path, isWorkFile(store.layout, path));
  const record = encodeRecord({ type: BLOB, size, created: Date.now(), hash, kind: meta.kind ?? '', meta: meta.meta });
  return { ns, key, type: BLOB, record, size, hash, blobFile };
}

/** The op of a file entry: its files in a work folder (content-addressed at commit) and its head written. */
export async function filesOp(store: DiskStore, ns: string, key: string, sources: readonly FileSource[], meta: PutFilesMeta): Promise<PutOp | undefined> {
  let prepared;
  try {
    prepared = await prepareFiles(store.layout, sources, store.durable);
  } catch (err) {
    return refused(store, 'putFiles', err);
  }
  const { work, size, id } = prepared;
  const info = { namespace: ns, key, kind: meta.kind ?? '', meta: meta.meta, created: Date.now(), size, encrypted: Boolean(meta.encrypted), files: prepared.files };
  let head: string;
  try {
    head = writeHead(store.layout, info, store.durable);
  } catch (err) {
    store.queue.discardWork(work);
    return refused(store, 'putFiles', err);
  }
  const record = encodeRecord({ type: FILES, size, created: info.created, hash: id, kind: info.kind, meta: info.meta });
  return { ns, key, type: FILES, record, size, hash: id, work, head };
}
