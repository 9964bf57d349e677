// Pass outputs as Cache file entries (namespace `pipeline.output`, key: the output id, meta: the
// output's description). Found from ids alone, without reading a file: a local entry by its head,
// a shared one by its manifest. Materialized only when needed: a local entry verified against its
// hashes, a shared one downloaded (verified) into the local cache. An entry that cannot be used
// (damaged, a hostile description, files that cannot coexist in one folder) is withdrawn so it is
// not served again; the caller then falls back to computing it.
import { join } from 'node:path';
import type { Cache, CacheFileEntry } from '../cache.js';
import { warn } from '../log.js';
import { NAMESPACES } from '../store/namespace.js';
import type { LocalFileEntry, ProgressCallback } from '../store/tier.js';
import { outputMeta, parseOutput, type OutputManifest } from './manifest.js';
import type { ModelContent } from './model.js';
import type { PipelineStorage } from './location.js';
import type { Materialized, PublishOutcome } from './result.js';

export const OUTPUTS = NAMESPACES.pipelineOutput;

/** A stored output as a lookup found it (its files not read yet). */
export interface FoundOutput {
  manifest: OutputManifest;
  /** 'local': in a local directory (this pipeline's or a read-only one); 'shared': in the shared tier only. */
  where: 'local' | 'shared';
  /** Bytes of its description (read from the shared tier for a shared one). */
  descriptionBytes: number;
  /** The cache holding it. */
  cache: Cache;
  entry: CacheFileEntry;
}

/** What materializing a found output gave. */
export type Materializing =
  | { view: Materialized; downloaded?: { bytes: number; files: number } }
  | { failed: 'damaged' | 'unavailable' };

/** The local view of a stored output: the model's path and its files' paths. */
export function viewOf(entry: CacheFileEntry, m: OutputManifest): Materialized {
  const dir = entry.dir!;
  const files = entry.files.map((f) => f.path ?? join(dir, ...f.name.split('/')));
  return { path: m.kind === 'file' ? join(dir, ...m.main!.split('/')) : dir, kind: m.kind, id: m.id, attributes: { ...m.attributes }, files };
}

/** The outputs of a pipeline's storage. */
export class OutputStore {
  readonly #s: PipelineStorage;

  constructor(storage: PipelineStorage) {
    this.#s = storage;
  }

  /** Whether outputs made here may be uploaded. */
  get publishing(): boolean {
    return this.#s.update;
  }

  async #found(entry: CacheFileEntry, cache: Cache): Promise<FoundOutput | undefined> {
    let manifest: OutputManifest;
    try {
      manifest = parseOutput(entry);
    } catch (err) {
      const withdrawn = await this.#withdraw(entry.key, entry.location, cache);
      warn('ERR_CORRUPT', `${(err as Error).message}; ${withdrawn ? 'withdrawn' : 'not used'}`);
      return undefined;
    }
    const descriptionBytes = entry.location === 'shared' ? Buffer.byteLength(JSON.stringify({ meta: entry.meta, files: entry.files })) : 0;
    return { manifest, where: entry.location, descriptionBytes, cache, entry };
  }

  /**
   * Output `id`: in this pipeline's directory, then in read-only ones, then (with `shared`) in
   * the shared tier. Reads descriptions only.
   */
  async lookup(id: string, shared: boolean): Promise<FoundOutput | undefined> {
    const { cache, readOnly } = this.#s;
    const withShared = shared && this.#s.shared !== undefined;
    const own = await cache.getFiles(id, { namespace: OUTPUTS, download: false, verify: false, shared: withShared && readOnly.length === 0 });
    const found = own && (await this.#found(own, cache));
    if (found || own?.location === 'shared') return found;
    for (const c of readOnly) {
      const e = await c.getFiles(id, { namespace: OUTPUTS, download: false, verify: false });
      const f = e && (await this.#found(e, c));
      if (f) return f;
    }
    // Asked last when there are other places to look, or when a local copy was unusable.
    return withShared && (readOnly.length > 0 || own) ? this.lookupShared(id) : undefined;
  }

  /** Output `id` in the shared tier only. */
  async lookupShared(id: string): Promise<FoundOutput | undefined> {
    if (!this.#s.shared) return undefined;
    const e = await this.#s.cache.getFiles(id, { namespace: OUTPUTS, download: false, verify: false });
    return e?.location === 'shared' ? this.#found(e, this.#s.cache) : undefined;
  }

  /**
   * The files of `found` on local disk: a local entry verified against its hashes (a damaged one
   * is dropped by its tier), a shared one downloaded and verified. An entry that cannot be
   * materialized is withdrawn; an unreachable shared tier is 'unavailable' (nothing withdrawn).
   */
  async materialize(found: FoundOutput, onProgress?: ProgressCallback): Promise<Materializing> {
    const { manifest: m, cache } = found;
    if (found.where === 'local') {
      const e = await cache.getFiles(m.id, { namespace: OUTPUTS, download: false, shared: false });
      return e ? { view: viewOf(e, m) } : { failed: 'damaged' };
    }
    let local: CacheFileEntry | undefined;
    try {
      local = await found.entry.fetch(onProgress ? { onProgress } : {});
    } catch (err) {
      // Files that cannot be written as one folder here (EEXIST, ENOTDIR...): never serve it again.
      const withdrawn = await this.#withdraw(m.id, 'shared', cache);
      warn('ERR_CORRUPT', `shared pipeline output ${m.id} cannot be materialized (${(err as Error).message}); ${withdrawn ? 'withdrawn' : 'not used'}`);
      return { failed: 'damaged' };
    }
    if (local) return { view: viewOf(local, m), downloaded: { bytes: m.size, files: m.files.length } };
    // A damaged download withdraws the entry in its tier; one still listed was unreachable.
    return { failed: (await this.lookupShared(m.id)) ? 'unavailable' : 'damaged' };
  }

  /** Deletes an unusable entry where it was found, unless that is read-only; whether it did. */
  async #withdraw(id: string, where: 'local' | 'shared', cache: Cache): Promise<boolean> {
    if (cache !== this.#s.cache || (where === 'shared' && !this.#s.update)) return false;
    try {
      return await cache.delete(id, { namespace: OUTPUTS, shared: where === 'shared' });
    } catch (err) {
      warn('ERR_TIER', `pipeline output ${id} could not be withdrawn (${(err as Error).message})`);
      return false;
    }
  }

  /**
   * Stores a computed output: the files of `content` under `root` (moved in when `move`), with
   * its description. Resolves to its local view; when the cache refuses it (a full disk, larger
   * than the limit) the files stay where they are and the view points there (uncached).
   */
  async store(m: OutputManifest, content: ModelContent, root: string, move: boolean): Promise<{ view: Materialized; stored: boolean }> {
    const { cache } = this.#s;
    const sources = content.files.map((f) => ({ name: f.path, path: join(root, ...f.path.split('/')), move }));
    if (await cache.putFiles(m.id, sources, { namespace: OUTPUTS, kind: m.run.pass.type, meta: outputMeta(m), shared: false })) {
      const e = await cache.getFiles(m.id, { namespace: OUTPUTS, download: false, verify: false, shared: false });
      if (e?.location === 'local') return { view: viewOf(e, m), stored: true };
    }
    warn('ERR_TIER', `pipeline output ${m.id} could not be stored in ${cache.disk?.dir}; using it uncached`);
    const files = content.files.map((f) => join(root, ...f.path.split('/')));
    return { view: { path: m.kind === 'file' ? join(root, ...m.main!.split('/')) : root, kind: m.kind, id: m.id, attributes: { ...m.attributes }, files }, stored: false };
  }

  /** Uploads the local output `id` to the shared tier: files first, its manifest last. */
  async publish(id: string): Promise<PublishOutcome> {
    const shared = this.#s.shared;
    if (!shared?.uploadFiles || !this.#s.update) return 'read-only';
    if (await shared.has(id, OUTPUTS)) return 'exists';
    const e = await this.#s.cache.getFiles(id, { namespace: OUTPUTS, download: false, verify: false, shared: false });
    if (e?.location !== 'local') return 'failed';
    return (await shared.uploadFiles(e as unknown as LocalFileEntry)) ? 'published' : 'failed';
  }
}
