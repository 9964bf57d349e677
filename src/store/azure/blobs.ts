// The verified blob client of the shared tier: every blob carries the tree hash of its bytes in
// its metadata and every read is checked against it; every write is a conditional create, so
// racing writers can neither overwrite nor mix a blob. Network failures degrade to misses (with a
// warning, a counter and a short cool-down); the SDK is loaded on first use.
import { randomBytes } from 'node:crypto';
import { open, rename, stat, unlink } from 'node:fs/promises';
import { CacheError, invalidType } from '../../errors.js';
import { hashFile, treeHashAsync } from '../../hash.js';
import { logDebug, warn } from '../../log.js';
import { createProgress, type Progress } from '../../progress.js';
import { emptyStats } from '../tier.js';
import {
  HASH_KEY, KIND_KEY, PROGRESS_MIN, SIZE_KEY, parseStoreOptions,
  type AzureBlobTierOptions, type AzureTierStats, type BlobInfo, type BlobRead, type TransferOptions, type WriteOutcome,
} from './options.js';
import { loadSdk, type Target } from './location.js';
import { checkName, classify, describeError, downloadFirstBlock, forRanges, readInto, totalOf, type Failure } from './transfer.js';
// Types only: erased from the emitted JS, so the SDK stays an optional peer.
import type { BlobClient, ContainerClient, StoragePipelineOptions } from '@azure/storage-blob';

/**
 * Verified blobs in one container (and prefix). {@link AzureBlobTier} is the tier built on it;
 * pipelines' shared store uses these calls directly.
 */
export class AzureBlobStore {
  /** Folder inside the container (ends with '/', or is empty). */
  readonly prefix: string;
  /** False when the tier was opened read-only (`update: false`). */
  readonly update: boolean;
  /** Block size of parallel transfers, bytes ({@link AzureBlobTierOptions.blockSize}, default 8 MiB). */
  readonly blockSize: number;
  /** Values up to this many bytes are uploaded in one request ({@link AzureBlobTierOptions.maxSingleShotSize}, default 256 MiB). */
  readonly maxSingleShotSize: number;
  /** Blocks in flight per transfer ({@link AzureBlobTierOptions.concurrency}, default 4). */
  readonly concurrency: number;
  readonly #target: Target;
  readonly #pipeline: StoragePipelineOptions;
  readonly #cooldownMs: number;
  readonly #progress: AzureBlobTierOptions['progress'];
  protected readonly counters: AzureTierStats = { ...emptyStats(0), bytesUploaded: 0, bytesDownloaded: 0, uploads: 0, downloads: 0, lostRaces: 0 };
  #client: Promise<ContainerClient> | undefined;
  #containerReady: Promise<void> | undefined;
  #downUntil = 0;
  protected closed = false;

  constructor(options: AzureBlobTierOptions) {
    const o = parseStoreOptions(options);
    this.#target = o.target;
    this.prefix = o.prefix;
    this.update = o.update;
    this.blockSize = o.blockSize;
    this.maxSingleShotSize = o.maxSingleShotSize;
    this.concurrency = o.concurrency;
    this.#cooldownMs = o.cooldownMs;
    this.#progress = o.progress;
    this.#pipeline = o.pipeline;
  }

  /** Where this tier stores (for messages). */
  get location(): string {
    return `${this.#target.describe}${this.prefix ? `, prefix ${this.prefix}` : ''}`;
  }

  /** False while the tier is cooling down after a network failure. */
  get available(): boolean {
    return Date.now() >= this.#downUntil;
  }

  protected assertOpen(): void {
    if (this.closed) throw new CacheError('ERR_CLOSED', `azure tier (${this.location}) is closed`);
  }

  /** The container client, created on first use (loads the SDK). Throws CacheError ERR_TIER without it. */
  protected async container(): Promise<ContainerClient> {
    this.assertOpen();
    this.#client ??= loadSdk()
      .then((sdk) => this.#target.connect(sdk, this.#pipeline))
      .catch((err) => {
        this.#client = undefined;
        throw err;
      });
    return this.#client;
  }

  protected blob(c: ContainerClient, name: string): BlobClient {
    return c.getBlobClient(this.prefix + name);
  }

  /** Records a failure; network ones start the cool-down. Returns the classification. */
  protected failed(op: string, name: string, err: unknown): Failure {
    const kind = err instanceof CacheError ? 'other' : classify(err);
    this.counters.errors++;
    if (kind === 'unavailable' && this.#cooldownMs > 0) this.#downUntil = Date.now() + this.#cooldownMs;
    warn('ERR_TIER', `azure tier ${op} of ${name} failed (${describeError(err)}); treated as a miss${kind === 'unavailable' ? `, skipping the shared tier for ${this.#cooldownMs / 1000} s` : ''}`);
    return kind;
  }

  protected corrupt(name: string, why: string): void {
    this.counters.corrupt++;
    warn('ERR_CORRUPT', `azure tier: blob ${this.prefix}${name} failed verification (${why}); treated as a miss`);
  }

  /** True when a call should be skipped: closed, or cooling down after a network failure. */
  protected skip(): boolean {
    if (this.closed) return true;
    if (!this.available) {
      this.counters.errors++;
      return true;
    }
    return false;
  }

  #progressFor(op: 'upload' | 'download', name: string, total: number, cb?: (loaded: number, total: number) => void): ((loaded: number) => void) | undefined {
    const p = this.#progress;
    let bar: Progress | undefined;
    if (p === true && total >= PROGRESS_MIN) bar = createProgress(`${op === 'upload' ? 'uploading' : 'downloading'} ${name.split('/').pop()}`, total, { bytes: true });
    if (!bar && typeof p !== 'function' && !cb) return undefined;
    return (loaded: number) => {
      bar?.update(loaded);
      if (bar && loaded >= total) bar.done();
      if (typeof p === 'function') p({ op, name, loaded, total });
      cb?.(loaded, total);
    };
  }

  async #ensureContainer(c: ContainerClient): Promise<void> {
    this.#containerReady ??= c.createIfNotExists().then(
      () => undefined,
      (err) => {
        this.#containerReady = undefined;
        throw err;
      },
    );
    return this.#containerReady;
  }

  // ------------------------------------------------------------------------------------- reads

  /**
   * Reads and verifies the blob `name` (relative to the prefix). Undefined when it is absent,
   * fails verification, or the service cannot be reached (the last two are counted and warned).
   * `dropCorrupt` deletes a blob that fails verification (when the tier may update), so that the
   * next writer can publish a good one. Resolves to `{ data, etag, lastModified, metadata }`;
   * `options.onProgress(loaded, total)` follows the download.
   */
  async readBlob(name: string, options: TransferOptions & { dropCorrupt?: boolean } = {}): Promise<BlobRead | undefined> {
    checkName(name);
    if (this.skip()) return undefined;
    let c: ContainerClient;
    try {
      c = await this.container();
    } catch (err) {
      this.failed('read', name, err);
      return undefined;
    }
    const blob = this.blob(c, name);
    try {
      // One request for small blobs: the first block brings the metadata and the total size.
      const first = await downloadFirstBlock(blob, this.blockSize);
      const total = totalOf(first);
      const etag = first.etag ?? '';
      const metadata = first.metadata ?? {};
      const data = Buffer.allocUnsafe(total);
      const onProgress = this.#progressFor('download', name, total, options.onProgress);
      const got = await readInto(first.readableStreamBody, data, 0);
      onProgress?.(got);
      if (total > got) {
        // The SDK fills its buffer from index 0 with the bytes at blob offset `got`.
        await blob.downloadToBuffer(data.subarray(got), got, total - got, {
          blockSize: this.blockSize,
          concurrency: this.concurrency,
          conditions: { ifMatch: etag },
          ...(onProgress ? { onProgress: (e: { loadedBytes: number }) => onProgress(got + e.loadedBytes) } : {}),
        });
      }
      this.counters.bytesDownloaded += total;
      this.counters.downloads++;
      const why = await this.#verifyBuffer(data, metadata);
      if (why) {
        this.corrupt(name, why);
        // Only the version we read: a writer may have replaced it meanwhile.
        if (options.dropCorrupt) await this.deleteBlob(name, { ifMatch: etag });
        return undefined;
      }
      return { data, etag, lastModified: first.lastModified?.getTime() ?? 0, metadata };
    } catch (err) {
      const kind = classify(err);
      if (kind === 'missing') return undefined;
      if (err instanceof CacheError && err.code === 'ERR_CORRUPT') {
        this.corrupt(name, err.message);
        return undefined;
      }
      // 412 here: the blob was replaced between our first and later blocks; a miss, not a failure.
      if (kind === 'exists') return undefined;
      this.failed('read', name, err);
      return undefined;
    }
  }

  async #verifyBuffer(data: Buffer, metadata: Record<string, string>): Promise<string | undefined> {
    const want = metadata[HASH_KEY];
    if (!want || !/^[0-9a-f]{32}$/.test(want)) return 'no recorded content hash';
    if (metadata[SIZE_KEY] !== undefined && Number(metadata[SIZE_KEY]) !== data.length) return `size ${data.length}, recorded ${metadata[SIZE_KEY]}`;
    const got = await treeHashAsync(data);
    return got === want ? undefined : `content hash ${got}, recorded ${want}`;
  }

  /**
   * Downloads blob `name` to `dest` in parallel blocks: into a temp file beside `dest`, verified
   * against the recorded hash (and `expectedHash`, when given), then renamed into place. Resolves
   * true on success; false (counted, warned) on a miss, a mismatch or a network failure.
   */
  async downloadFile(name: string, dest: string, options: TransferOptions & { expectedHash?: string } = {}): Promise<boolean> {
    checkName(name);
    if (typeof dest !== 'string' || dest.length === 0) throw invalidType('dest', 'file path', dest);
    if (this.skip()) return false;
    const tmp = `${dest}.${randomBytes(6).toString('hex')}.part`;
    let fh: Awaited<ReturnType<typeof open>> | undefined;
    try {
      const c = await this.container();
      const blob = this.blob(c, name);
      const first = await downloadFirstBlock(blob, this.blockSize);
      const total = totalOf(first);
      const etag = first.etag ?? '';
      const metadata = first.metadata ?? {};
      const want = metadata[HASH_KEY];
      if (!want || (options.expectedHash !== undefined && want !== options.expectedHash)) {
        first.readableStreamBody?.resume();
        this.corrupt(name, !want ? 'no recorded content hash' : `recorded hash ${want}, expected ${options.expectedHash}`);
        return false;
      }
      const onProgress = this.#progressFor('download', name, total, options.onProgress);
      fh = await open(tmp, 'wx', 0o600);
      const handle = fh;
      let loaded = 0;
      const writeStream = async (stream: NodeJS.ReadableStream | undefined, at: number, length: number) => {
        let pos = at;
        for await (const chunk of (stream ?? []) as AsyncIterable<Buffer>) {
          if (pos + chunk.length > at + length) throw new CacheError('ERR_CORRUPT', 'blob is longer than its reported size');
          await handle.write(chunk, 0, chunk.length, pos);
          pos += chunk.length;
          loaded += chunk.length;
          onProgress?.(loaded);
        }
        if (pos !== at + length) throw new CacheError('ERR_CORRUPT', `blob block at ${at} ended after ${pos - at} of ${length} bytes`);
      };
      const firstLen = Math.min(total, first.contentLength ?? total);
      await writeStream(first.readableStreamBody, 0, firstLen);
      await forRanges(firstLen, total, this.blockSize, this.concurrency, async (off, len) => {
        const part = await blob.download(off, len, { conditions: { ifMatch: etag } });
        await writeStream(part.readableStreamBody, off, len);
      });
      await fh.close();
      fh = undefined;
      this.counters.bytesDownloaded += total;
      this.counters.downloads++;
      const got = await hashFile(tmp);
      if (got !== want) {
        this.corrupt(name, `content hash ${got}, recorded ${want}`);
        await unlink(tmp).catch(() => {});
        return false;
      }
      await rename(tmp, dest);
      return true;
    } catch (err) {
      await fh?.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      const kind = classify(err);
      if (kind === 'missing' || kind === 'exists') return false;
      if (err instanceof CacheError && err.code === 'ERR_CORRUPT') {
        this.corrupt(name, err.message);
        return false;
      }
      this.failed('download', name, err);
      return false;
    }
  }

  /** Properties of blob `name` without its bytes; undefined when absent or unreachable. */
  async properties(name: string): Promise<BlobInfo | undefined> {
    checkName(name);
    if (this.skip()) return undefined;
    try {
      const c = await this.container();
      const p = await this.blob(c, name).getProperties();
      const metadata = p.metadata ?? {};
      return { name, size: p.contentLength ?? 0, lastModified: p.lastModified?.getTime() ?? 0, etag: p.etag ?? '', metadata, ...(metadata[HASH_KEY] ? { hash: metadata[HASH_KEY] } : {}) };
    } catch (err) {
      if (classify(err) !== 'missing') this.failed('properties', name, err);
      return undefined;
    }
  }

  /**
   * Blobs whose names start with `prefix` (relative to the tier's prefix), in name order.
   * Unlike reads, a failure throws (CacheError ERR_TIER): listing is for tools, which must not
   * mistake an outage for an empty container.
   */
  async *list(prefix = ''): AsyncGenerator<BlobInfo> {
    if (typeof prefix !== 'string') throw invalidType('prefix', 'string', prefix);
    const c = await this.container();
    try {
      for await (const b of c.listBlobsFlat({ prefix: this.prefix + prefix, includeMetadata: true })) {
        const metadata = b.metadata ?? {};
        yield {
          name: b.name.slice(this.prefix.length),
          size: b.properties.contentLength ?? 0,
          lastModified: b.properties.lastModified?.getTime() ?? 0,
          etag: b.properties.etag ?? '',
          metadata,
          ...(metadata[HASH_KEY] ? { hash: metadata[HASH_KEY] } : {}),
        };
      }
    } catch (err) {
      if (classify(err) === 'missing') return; // no container yet: nothing stored
      throw new CacheError('ERR_TIER', `cannot list ${this.location}: ${describeError(err)}`, { cause: err });
    }
  }

  // ------------------------------------------------------------------------------------- writes

  /**
   * Creates blob `name` holding `data` unless it exists. 'exists' means a blob was already there
   * and verifies (same recorded hash, or downloaded and checked); a damaged one is replaced.
   * One request up to `maxSingleShotSize`, parallel blocks above. Resolves to `'created'` (this
   * call wrote it), `'exists'`, `'failed'` (counted and warned) or `'read-only'` (opened with
   * `update: false`); `options.onProgress(loaded, total)` follows the upload, `options.kind` labels the blob.
   */
  async writeBlob(name: string, data: Uint8Array, options: TransferOptions & { kind?: string } = {}): Promise<WriteOutcome> {
    checkName(name);
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const hash = await treeHashAsync(bytes);
    return this.#create(name, hash, bytes.byteLength, options.kind, (blob, metadata, onProgress) =>
      blob.getBlockBlobClient().uploadData(bytes, {
        blockSize: this.blockSize,
        concurrency: this.concurrency,
        maxSingleShotSize: this.maxSingleShotSize,
        metadata,
        conditions: { ifNoneMatch: '*' },
        ...(onProgress ? { onProgress: (e: { loadedBytes: number }) => onProgress(e.loadedBytes) } : {}),
      }), options.onProgress);
  }

  /**
   * Uploads the file at `path` as blob `name` in parallel blocks, unless the blob exists (see
   * {@link writeBlob}). `hash` (the file's {@link hashFile}) saves hashing it again.
   */
  async uploadFile(name: string, path: string, options: TransferOptions & { hash?: string; kind?: string } = {}): Promise<WriteOutcome> {
    checkName(name);
    if (typeof path !== 'string' || path.length === 0) throw invalidType('path', 'file path', path);
    const [hash, st] = await Promise.all([options.hash ?? hashFile(path), stat(path)]);
    return this.#create(name, hash, st.size, options.kind, (blob, metadata, onProgress) =>
      blob.getBlockBlobClient().uploadFile(path, {
        blockSize: this.blockSize,
        concurrency: this.concurrency,
        maxSingleShotSize: this.blockSize,
        metadata,
        conditions: { ifNoneMatch: '*' },
        ...(onProgress ? { onProgress: (e: { loadedBytes: number }) => onProgress(e.loadedBytes) } : {}),
      }), options.onProgress);
  }

  async #create(
    name: string,
    hash: string,
    size: number,
    kind: string | undefined,
    upload: (blob: BlobClient, metadata: Record<string, string>, onProgress?: (loaded: number) => void) => Promise<unknown>,
    cb?: (loaded: number, total: number) => void,
  ): Promise<WriteOutcome> {
    if (!this.update) return 'read-only';
    if (this.skip()) return 'failed';
    const metadata: Record<string, string> = { [HASH_KEY]: hash, [SIZE_KEY]: String(size), ...(kind ? { [KIND_KEY]: kind.replace(/[^\w.-]/g, '_') } : {}) };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const c = await this.container();
        await this.#ensureContainer(c);
        await upload(this.blob(c, name), metadata, this.#progressFor('upload', name, size, cb));
        this.counters.bytesUploaded += size;
        this.counters.uploads++;
        this.counters.puts++;
        return 'created';
      } catch (err) {
        const kind = classify(err);
        if (kind !== 'exists') {
          this.counters.rejected++;
          this.failed('upload', name, err);
          return 'failed';
        }
        this.counters.lostRaces++;
        const verdict = await this.#judgeExisting(name, hash);
        if (verdict !== 'damaged') return verdict;
        // A damaged blob was there and is gone now: create ours in its place (once).
      }
    }
    return 'failed';
  }

  /** After a lost conditional create: does the blob that won verify? Deletes it if damaged. */
  async #judgeExisting(name: string, ourHash: string): Promise<'exists' | 'damaged' | 'failed'> {
    const props = await this.properties(name);
    if (!props) return this.available ? 'damaged' : 'failed'; // deleted meanwhile: try again
    if (props.hash === ourHash) return 'exists'; // same bytes claimed; every reader verifies them
    const read = await this.readBlob(name);
    if (read) return 'exists';
    if (!this.available) return 'failed';
    logDebug(`azure: replacing damaged blob ${this.prefix}${name}`);
    return (await this.deleteBlob(name, { ifMatch: props.etag })) ? 'damaged' : 'failed';
  }

  /** Deletes blob `name` (only the version with etag `ifMatch`, when given). False when absent or refused. */
  async deleteBlob(name: string, options: { ifMatch?: string } = {}): Promise<boolean> {
    checkName(name);
    if (!this.update || this.skip()) return false;
    try {
      const c = await this.container();
      await this.blob(c, name).delete(options.ifMatch ? { conditions: { ifMatch: options.ifMatch } } : {});
      return true;
    } catch (err) {
      const kind = classify(err);
      if (kind !== 'missing' && kind !== 'exists') this.failed('delete', name, err);
      return false;
    }
  }

}
