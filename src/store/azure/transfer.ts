// The transfer helpers of the shared tier: ranged and parallel block transfers, and how an SDK
// error is classified (absent, lost race, unreachable, other).
import { CacheError, invalidType } from '../../errors.js';
import type { BlobClient } from '@azure/storage-blob';
import type { Readable } from 'node:stream';

export function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 900 || name.startsWith('/') || name.includes('\\')) {
    throw invalidType('name', 'a relative blob name such as "pipeline/v1/outputs/<id>/manifest.json"', name);
  }
  return name;
}

export type Failure = 'missing' | 'exists' | 'unavailable' | 'other';

/** Classifies an SDK error: 404, 409/412, network/timeout/5xx, anything else. */
export function classify(err: unknown): Failure {
  const e = err as { statusCode?: number; name?: string; code?: string };
  const status = e?.statusCode;
  if (status === 404) return 'missing';
  if (status === 409 || status === 412) return 'exists';
  if (status === undefined || status === 408 || status >= 500 || e?.name === 'AbortError') return 'unavailable';
  return 'other';
}

export function describeError(err: unknown): string {
  const e = err as { statusCode?: number; code?: string; message?: string };
  const msg = (e?.message ?? String(err)).split('\n')[0].slice(0, 200);
  return [e?.statusCode, e?.code].filter(Boolean).join(' ') + (e?.statusCode || e?.code ? ': ' : '') + msg;
}

export async function readInto(stream: NodeJS.ReadableStream | undefined, buf: Buffer, offset: number): Promise<number> {
  if (!stream) return 0;
  let at = offset;
  for await (const chunk of stream as Readable) {
    const c = chunk as Buffer;
    if (at + c.length > buf.length) throw new CacheError('ERR_CORRUPT', 'blob is longer than its reported size');
    c.copy(buf, at);
    at += c.length;
  }
  return at - offset;
}

/** The first block of a blob (with its metadata and total size); an empty blob answers 416 to a ranged read. */
export async function downloadFirstBlock(blob: BlobClient, blockSize: number) {
  try {
    return await blob.download(0, blockSize);
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 416) throw err;
    return blob.download(0);
  }
}

/** Total size from a Content-Range header ("bytes 0-99/1234"), else the content length. */
export function totalOf(res: { contentRange?: string; contentLength?: number }): number {
  const m = res.contentRange ? /\/(\d+)\s*$/.exec(res.contentRange) : null;
  return m ? Number(m[1]) : (res.contentLength ?? 0);
}

/** Runs `fn(offset, length)` over [start, total) in `blockSize` pieces, `concurrency` at a time. */
export async function forRanges(start: number, total: number, blockSize: number, concurrency: number, fn: (offset: number, length: number) => Promise<void>): Promise<void> {
  let next = start;
  const worker = async () => {
    while (next < total) {
      const off = next;
      const len = Math.min(blockSize, total - off);
      next += len;
      await fn(off, len);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, Math.ceil((total - start) / blockSize))) }, worker));
}

