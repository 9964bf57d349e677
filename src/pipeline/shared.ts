// Pass outputs in the shared blob store. An output is published files first, into a folder of
// its own (`outputs/<id>/<upload>/`), then its manifest last with a conditional create: the
// manifest is the commit point, so an upload killed half way is invisible, and two racing writers
// can never mix their files (the loser's folder is deleted, or collected by gc).
//
//   <prefix>pipeline/v1/outputs/<id>/manifest.json
//   <prefix>pipeline/v1/outputs/<id>/<upload>/<file path>
//   <prefix>pipeline/v1/evals/<evaluation id>.json
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CacheError } from '../errors.js';
import { logDebug, warn } from '../log.js';
import type { AzureBlobTier, BlobInfo, TransferOptions } from '../store/azure/tier.js';
import { parseManifest, type OutputManifest } from './manifest.js';
import type { EvaluationRecord } from './records.js';

export const SHARED_ROOT = 'pipeline/v1/';
const OUTPUTS = `${SHARED_ROOT}outputs/`;
const EVALS = `${SHARED_ROOT}evals/`;
const MANIFEST = 'manifest.json';

/** A manifest read from the shared store, with the etag that identifies that version of it. */
export interface SharedHit {
  manifest: OutputManifest;
  etag: string;
  /** Bytes of the manifest itself. */
  bytes: number;
}

/** An output prefix as found by listing (for `modelcache shared ls | gc`). */
export interface SharedEntry {
  id: string;
  /** True when the manifest exists (the entry is visible to readers). */
  committed: boolean;
  /** The pass type that produced it (recorded on the manifest blob). */
  passType?: string;
  /** Blob bytes under the prefix, manifest included. */
  bytes: number;
  blobs: number;
  /** Newest blob's last-modified time, ms since epoch. */
  lastModified: number;
  /** The upload folder the manifest names: known only after reading it (see {@link SharedStore.entries}). */
  uploads: Map<string, { blobs: BlobInfo[]; newest: number }>;
  manifestBlob?: BlobInfo;
}

/** What {@link SharedStore.gc} removed (or would remove, with `dryRun`). */
export interface GcReport {
  /** Prefixes without a manifest, older than the grace period: removed whole. */
  incomplete: string[];
  /** Upload folders of committed outputs that their manifest does not name (lost races, killed retries). */
  orphanUploads: string[];
  blobs: number;
  bytes: number;
  /** Prefixes left alone because they are younger than the grace period. */
  young: number;
}

export type PublishOutcome = 'published' | 'exists' | 'failed' | 'read-only';

const outputPrefix = (id: string) => `${OUTPUTS}${id}/`;
const manifestName = (id: string) => `${outputPrefix(id)}${MANIFEST}`;
const fileName = (id: string, upload: string, path: string) => `${outputPrefix(id)}${upload}/${path}`;

/** The pipeline view of an {@link AzureBlobTier}. */
export class SharedStore {
  readonly tier: AzureBlobTier;
  /** False when outputs are only read (`updateSharedCache: false` or a read-only tier). */
  readonly update: boolean;

  constructor(tier: AzureBlobTier, options: { update?: boolean } = {}) {
    this.tier = tier;
    this.update = (options.update ?? true) && tier.update;
  }

  /** The manifest of output `id`, read and verified, without downloading any model file. */
  async lookup(id: string): Promise<SharedHit | undefined> {
    const read = await this.tier.readBlob(manifestName(id), { dropCorrupt: this.update });
    if (!read) return undefined;
    try {
      return { manifest: parseManifest(read.data.toString('utf8'), id), etag: read.etag, bytes: read.data.length };
    } catch (err) {
      warn('ERR_CORRUPT', `shared pipeline output ${id} has an unusable manifest (${(err as Error).message}); treated as a miss`);
      if (this.update) await this.tier.deleteBlob(manifestName(id), { ifMatch: read.etag });
      return undefined;
    }
  }

  /**
   * Downloads every file of `hit` into `modelDir`, each verified against the manifest's hash.
   * Resolves false when any file is missing, damaged or unreachable (nothing half-done is kept
   * by the caller: it discards the folder).
   */
  async download(hit: SharedHit, modelDir: string, options: TransferOptions = {}): Promise<boolean> {
    const m = hit.manifest;
    if (!m.upload) return false;
    let done = 0;
    for (const f of m.files) {
      const dest = join(modelDir, ...f.path.split('/'));
      await mkdir(dirname(dest), { recursive: true });
      const before = done;
      const ok = await this.tier.downloadFile(fileName(m.id, m.upload, f.path), dest, {
        expectedHash: f.hash,
        ...(options.onProgress ? { onProgress: (loaded: number) => options.onProgress!(before + loaded, m.size) } : {}),
      });
      if (!ok) return false;
      done += f.size;
    }
    return true;
  }

  /**
   * Withdraws output `id` after its files failed verification: deletes the manifest (only the
   * version that was read), so the next writer can publish a good one; the files go with it.
   */
  async invalidate(hit: SharedHit): Promise<void> {
    if (!this.update) return;
    if (await this.tier.deleteBlob(manifestName(hit.manifest.id), { ifMatch: hit.etag })) {
      logDebug(`pipeline: withdrew damaged shared output ${hit.manifest.id}`);
      if (hit.manifest.upload) await this.#deleteFolder(`${outputPrefix(hit.manifest.id)}${hit.manifest.upload}/`);
    }
  }

  async #deleteFolder(prefix: string): Promise<number> {
    let n = 0;
    try {
      for await (const b of this.tier.list(prefix)) if (await this.tier.deleteBlob(b.name)) n++;
    } catch (err) {
      logDebug(`pipeline: cannot clean ${prefix}: ${(err as Error).message}`);
    }
    return n;
  }

  /**
   * Publishes a local output: its files into a new upload folder, then the manifest (the commit
   * point) with a conditional create. `onFilesUploaded` runs between the two (a hook for events).
   */
  async publish(m: OutputManifest, localPaths: readonly string[], hooks: { onFilesUploaded?: () => void } = {}): Promise<PublishOutcome> {
    if (!this.update) return 'read-only';
    if (await this.tier.properties(manifestName(m.id))) return 'exists';
    if (!this.tier.available) return 'failed';
    const upload = `u${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
    for (let i = 0; i < m.files.length; i++) {
      const f = m.files[i];
      const outcome = await this.tier.uploadFile(fileName(m.id, upload, f.path), localPaths[i], { hash: f.hash, kind: 'pipeline-file' });
      // 'exists' cannot be ours to trust here: the folder is new, so anything there is foreign.
      if (outcome !== 'created') {
        await this.#deleteFolder(`${outputPrefix(m.id)}${upload}/`);
        return outcome === 'read-only' ? 'read-only' : 'failed';
      }
    }
    hooks.onFilesUploaded?.();
    const shared: OutputManifest = { ...m, upload };
    const outcome = await this.tier.writeBlob(manifestName(m.id), Buffer.from(JSON.stringify(shared)), { kind: m.run.pass.type });
    if (outcome === 'created') return 'published';
    // Lost the race (the winner's manifest verified), or failed: our folder is not referenced.
    await this.#deleteFolder(`${outputPrefix(m.id)}${upload}/`);
    return outcome === 'exists' ? 'exists' : 'failed';
  }

  async evaluation(id: string): Promise<EvaluationRecord | undefined> {
    const read = await this.tier.readBlob(`${EVALS}${id}.json`, { dropCorrupt: this.update });
    if (!read) return undefined;
    try {
      const rec = JSON.parse(read.data.toString('utf8')) as EvaluationRecord;
      if (rec?.id !== id || rec.metrics === null || typeof rec.metrics !== 'object') throw new Error('id or metrics');
      return rec;
    } catch (err) {
      warn('ERR_CORRUPT', `shared evaluation ${id} is unusable (${(err as Error).message}); treated as a miss`);
      return undefined;
    }
  }

  async putEvaluation(rec: EvaluationRecord): Promise<boolean> {
    if (!this.update) return false;
    const outcome = await this.tier.writeBlob(`${EVALS}${rec.id}.json`, Buffer.from(JSON.stringify(rec)), { kind: 'pipeline-eval' });
    return outcome === 'created' || outcome === 'exists';
  }

  /** Every output prefix, committed or not, from one listing (throws CacheError ERR_TIER on failure). */
  async entries(): Promise<SharedEntry[]> {
    const byId = new Map<string, SharedEntry>();
    for await (const b of this.tier.list(OUTPUTS)) {
      const rest = b.name.slice(OUTPUTS.length);
      const slash = rest.indexOf('/');
      if (slash <= 0) continue;
      const id = rest.slice(0, slash);
      const inner = rest.slice(slash + 1);
      let e = byId.get(id);
      if (!e) byId.set(id, (e = { id, committed: false, bytes: 0, blobs: 0, lastModified: 0, uploads: new Map() }));
      e.bytes += b.size;
      e.blobs++;
      e.lastModified = Math.max(e.lastModified, b.lastModified);
      if (inner === MANIFEST) {
        e.committed = true;
        e.manifestBlob = b;
        if (b.metadata.mckind) e.passType = b.metadata.mckind;
        continue;
      }
      const folder = inner.slice(0, inner.indexOf('/'));
      if (!folder) continue;
      let u = e.uploads.get(folder);
      if (!u) e.uploads.set(folder, (u = { blobs: [], newest: 0 }));
      u.blobs.push(b);
      u.newest = Math.max(u.newest, b.lastModified);
    }
    return [...byId.values()];
  }

  /** Deletes output `id`: the manifest first (the entry disappears at once), then its files. */
  async delete(id: string): Promise<{ deleted: boolean; blobs: number }> {
    if (!this.update) throw new CacheError('ERR_BAD_INPUT', `the shared store (${this.tier.location}) is read-only`);
    const had = await this.tier.deleteBlob(manifestName(id));
    const blobs = await this.#deleteFolder(outputPrefix(id));
    return { deleted: had || blobs > 0, blobs: blobs + (had ? 1 : 0) };
  }

  /**
   * Removes what no reader can see: prefixes without a manifest and upload folders a manifest
   * does not name, once their newest blob is older than `graceMs` (an upload may still be running
   * on another machine). `dryRun` only reports.
   */
  async gc(options: { graceMs: number; dryRun?: boolean; now?: number }): Promise<GcReport> {
    if (!this.update && !options.dryRun) throw new CacheError('ERR_BAD_INPUT', `the shared store (${this.tier.location}) is read-only`);
    const now = options.now ?? Date.now();
    const report: GcReport = { incomplete: [], orphanUploads: [], blobs: 0, bytes: 0, young: 0 };
    const remove = async (blobs: BlobInfo[]) => {
      for (const b of blobs) {
        if (options.dryRun || (await this.tier.deleteBlob(b.name, { ifMatch: b.etag }))) {
          report.blobs++;
          report.bytes += b.size;
        }
      }
    };
    for (const e of await this.entries()) {
      if (!e.committed) {
        if (now - e.lastModified < options.graceMs) {
          report.young++;
          continue;
        }
        // Re-check: a manifest may have landed since the listing.
        if (!options.dryRun && (await this.tier.properties(manifestName(e.id)))) continue;
        report.incomplete.push(e.id);
        await remove([...e.uploads.values()].flatMap((u) => u.blobs));
        continue;
      }
      if (e.uploads.size <= 1) continue;
      const hit = await this.lookup(e.id);
      if (!hit) continue;
      for (const [folder, u] of e.uploads) {
        if (folder === hit.manifest.upload) continue;
        if (now - u.newest < options.graceMs) {
          report.young++;
          continue;
        }
        report.orphanUploads.push(`${e.id}/${folder}`);
        await remove(u.blobs);
      }
    }
    return report;
  }
}
