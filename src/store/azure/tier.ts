// The shared tier in Azure Blob Storage: byte values and file entries by namespace, each
// namespace a folder of its own so that it can be listed, counted and deleted by prefix:
//
//   <prefix>entries/<ns>/v/<key>                       a value (an encoded frame)
//   <prefix>entries/<ns>/f/<key>/manifest.json         a file entry's manifest: the commit point
//   <prefix>entries/<ns>/f/<key>/<upload>/<file name>  its files, uploaded before the manifest
//
// A prefix without a manifest is invisible (and collectable); racing uploads use folders of their
// own, so files of two writers never mix. No call here deletes more than one namespace, except
// `deleteAllEntries`, which only an explicit command of the tier's owner should call.
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { logDebug, warn } from '../../log.js';
import { encodeManifest, parseManifest } from '../manifest.js';
import { checkKey, checkNamespace, DEFAULT_NAMESPACE } from '../namespace.js';
import type { EntryInfo, FileEntryInfo, LocalFileEntry, ProgressCallback, PutMeta, Tier } from '../tier.js';
import { AzureBlobStore } from './blobs.js';
import { KIND_KEY, type AzureBlobTierOptions, type AzureTierStats, type BlobInfo } from './options.js';
import { forRanges } from './transfer.js';

export type { AzureBlobTierOptions, AzureTierStats, BlobInfo, BlobRead, TransferOptions, TransferProgress, WriteOutcome } from './options.js';
export { parseConnectionString, parseContainerUrl, type TokenCredentialLike } from './location.js';

/** The root of every entry under the tier's prefix. */
export const ENTRIES_ROOT = 'entries/';
const MANIFEST = 'manifest.json';

/** A file entry read from the shared tier: its manifest, and which version of it. */
export interface RemoteFileEntry extends FileEntryInfo {
  /** The folder under the entry holding the files of the upload that won. */
  upload: string;
  /** ETag of the manifest that was read: a damaged entry is withdrawn only if its manifest is still this version. */
  etag: string;
}

const nsRoot = (ns: string) => `${ENTRIES_ROOT}${ns}/`;
const entryRoot = (ns: string, key: string) => `${nsRoot(ns)}f/${key}/`;

/**
 * A shared tier in Azure Blob Storage (`@azure/storage-blob`, loaded on first use).
 *
 * @example
 * const shared = new AzureBlobTier({ containerUrl: 'https://acct.blob.core.windows.net/models' });
 * const cache = new Cache({ dir: '.cache', shared });
 */
export class AzureBlobTier extends AzureBlobStore implements Tier {
  readonly name = 'azure';
  readonly encoded = true;
  readonly shared = true;
  readonly #options: AzureBlobTierOptions;

  constructor(options: AzureBlobTierOptions) {
    super(options);
    this.#options = options;
  }

  /**
   * This tier's container opened again with `update: false`: for a reader that must leave the
   * container as it is (a pipeline with `updateSharedCache: false` given this tier), since a
   * tier that may write withdraws what it finds damaged. A new tier, closed by its owner.
   */
  readOnlyTwin(): AzureBlobTier {
    return new AzureBlobTier({ ...this.#options, update: false });
  }

  #ns(namespace: string | undefined): string {
    return namespace === undefined ? DEFAULT_NAMESPACE : checkNamespace(namespace);
  }

  /** The blob name of a value. */
  valueName(key: string, namespace?: string): string {
    return `${nsRoot(this.#ns(namespace))}v/${checkKey(key)}`;
  }

  /** The blob name of a file entry's manifest. */
  manifestName(key: string, namespace?: string): string {
    return `${entryRoot(this.#ns(namespace), checkKey(key))}${MANIFEST}`;
  }

  async get(key: string, namespace?: string): Promise<Buffer | undefined> {
    this.assertOpen();
    const read = await this.readBlob(this.valueName(key, namespace), { dropCorrupt: true });
    if (!read) {
      this.counters.misses++;
      return undefined;
    }
    this.counters.hits++;
    return read.data;
  }

  async getMany(keys: readonly string[], namespace?: string): Promise<(Buffer | undefined)[]> {
    const out: (Buffer | undefined)[] = new Array(keys.length);
    // A few at a time: each get may itself run `concurrency` block downloads.
    await forRanges(0, keys.length, 1, 8, async (i) => {
      out[i] = await this.get(keys[i], namespace);
    });
    return out;
  }

  async put(key: string, value: Uint8Array, meta: PutMeta = {}): Promise<boolean> {
    this.assertOpen();
    const outcome = await this.writeBlob(this.valueName(key, meta.namespace), value, meta.kind ? { kind: meta.kind } : {});
    return outcome === 'created' || outcome === 'exists';
  }

  async has(key: string, namespace?: string): Promise<boolean> {
    this.assertOpen();
    const [value, files] = await Promise.all([this.properties(this.valueName(key, namespace)), this.properties(this.manifestName(key, namespace))]);
    return value !== undefined || files !== undefined;
  }

  /** Deletes the value and the file entry of `key` (the manifest first: the entry vanishes at once). */
  async delete(key: string, namespace?: string): Promise<boolean> {
    this.assertOpen();
    const ns = this.#ns(namespace);
    const value = await this.deleteBlob(this.valueName(key, ns));
    const manifest = await this.deleteBlob(this.manifestName(key, ns));
    if (manifest) await this.#deleteUnder(entryRoot(ns, key));
    return value || manifest;
  }

  async #deleteUnder(prefix: string): Promise<number> {
    let n = 0;
    try {
      for await (const b of this.list(prefix)) if (await this.deleteBlob(b.name)) n++;
    } catch (err) {
      logDebug(`azure: cannot clean ${prefix}: ${(err as Error).message}`);
    }
    return n;
  }

  // ------------------------------------------------------------------------------ file entries

  /** Uploads a local file entry: its files into a folder of their own, then the manifest (conditional create). */
  async uploadFiles(entry: LocalFileEntry): Promise<boolean> {
    this.assertOpen();
    if (!this.update) return false;
    const ns = this.#ns(entry.namespace);
    const manifest = this.manifestName(entry.key, ns);
    if (await this.properties(manifest)) return true;
    if (!this.available) return false;
    const upload = `u${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
    const folder = `${entryRoot(ns, entry.key)}${upload}/`;
    for (const f of entry.files) {
      const outcome = await this.uploadFile(`${folder}${f.name}`, f.path, { hash: f.hash, kind: 'file' });
      // 'exists' cannot be ours to trust here: the folder is new, so anything there is foreign.
      if (outcome !== 'created') {
        await this.#deleteUnder(folder);
        return false;
      }
    }
    const outcome = await this.writeBlob(manifest, encodeManifest(entry, { upload }), entry.kind ? { kind: entry.kind } : {});
    if (outcome === 'created') return true;
    await this.#deleteUnder(folder); // lost the race (the winner's manifest verified) or failed
    return outcome === 'exists';
  }

  /** The manifest of a file entry, read and verified, without downloading a file. */
  async lookupFiles(key: string, namespace?: string): Promise<RemoteFileEntry | undefined> {
    this.assertOpen();
    const ns = this.#ns(namespace);
    const name = this.manifestName(key, ns);
    const read = await this.readBlob(name, { dropCorrupt: this.update });
    if (!read) return undefined;
    try {
      const { entry, raw } = parseManifest(read.data, ns, key);
      if (typeof raw.upload !== 'string' || !/^[0-9a-z-]{1,64}$/.test(raw.upload)) throw new Error('upload folder');
      return { ...entry, upload: raw.upload, etag: read.etag };
    } catch (err) {
      // Withdrawn (only the version read) where this tier may update the container, else left in place.
      const withdrawn = this.update && (await this.deleteBlob(name, { ifMatch: read.etag }));
      warn('ERR_CORRUPT', `shared file entry ${ns}/${key} has an unusable manifest (${(err as Error).message}); ${withdrawn ? 'withdrawn' : 'not used'}`);
      return undefined;
    }
  }

  /**
   * Downloads the files of `entry` (from {@link lookupFiles}) into `dir` under their names, each
   * verified against the manifest. False when any is missing, damaged or unreachable; a damaged
   * entry is withdrawn (its manifest deleted, only the version that was read).
   */
  async downloadFiles(entry: FileEntryInfo, dir: string, options: { onProgress?: ProgressCallback } = {}): Promise<boolean> {
    this.assertOpen();
    const remote = entry as RemoteFileEntry;
    if (typeof remote.upload !== 'string') return false;
    const folder = `${entryRoot(this.#ns(entry.namespace), checkKey(entry.key))}${remote.upload}/`;
    let done = 0;
    for (const f of entry.files) {
      const dest = join(dir, ...f.name.split('/'));
      await mkdir(dirname(dest), { recursive: true, mode: 0o700 });
      const before = done;
      const ok = await this.downloadFile(`${folder}${f.name}`, dest, {
        expectedHash: f.hash,
        ...(options.onProgress ? { onProgress: (loaded: number) => options.onProgress!(before + loaded, entry.size) } : {}),
      });
      if (!ok) {
        if (this.update && this.available && remote.etag && (await this.deleteBlob(this.manifestName(entry.key, entry.namespace), { ifMatch: remote.etag }))) {
          logDebug(`azure: withdrew damaged shared file entry ${entry.namespace}/${entry.key}`);
        }
        return false;
      }
      done += f.size;
    }
    return true;
  }

  // -------------------------------------------------------------------------------- namespaces

  /** Entries of `namespace` (of every namespace when omitted), from one listing. */
  async *listEntries(namespace?: string): AsyncGenerator<EntryInfo> {
    const prefix = namespace === undefined ? ENTRIES_ROOT : nsRoot(checkNamespace(namespace));
    const files = new Map<string, EntryInfo>();
    for await (const b of this.list(prefix)) {
      const parsed = parseEntryName(b.name);
      if (!parsed) continue;
      const { ns, type, key, rest } = parsed;
      if (type === 'v') {
        yield { namespace: ns, key, type: 'value', size: b.size, kind: b.metadata[KIND_KEY] ?? '', created: b.lastModified };
        continue;
      }
      const id = `${ns}/${key}`;
      let e = files.get(id);
      if (!e) files.set(id, (e = { namespace: ns, key, type: 'files', size: 0, kind: '', created: 0 }));
      if (rest === MANIFEST) {
        e.kind = b.metadata[KIND_KEY] ?? '';
        e.created = b.lastModified;
      } else e.size += b.size;
    }
    // Only committed entries (with a manifest) are entries; the rest is collectable.
    for (const e of files.values()) if (e.created > 0) yield e;
  }

  async countEntries(namespace: string): Promise<number> {
    let n = 0;
    for await (const _ of this.listEntries(namespace)) n++;
    return n;
  }

  /** The namespaces holding blobs. */
  async namespaces(): Promise<string[]> {
    const c = await this.container();
    const out: string[] = [];
    try {
      for await (const item of c.listBlobsByHierarchy('/', { prefix: this.prefix + ENTRIES_ROOT })) {
        if (item.kind === 'prefix') out.push(item.name.slice(this.prefix.length + ENTRIES_ROOT.length).replace(/\/$/, ''));
      }
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    }
    return out;
  }

  /** Deletes every blob of `namespace` (manifests and values first, so entries vanish whole); how many entries. */
  async deleteNamespace(namespace: string): Promise<number> {
    this.assertOpen();
    if (!this.update) return 0;
    return this.#deletePrefix(nsRoot(checkNamespace(namespace)));
  }

  /**
   * Deletes every entry of every namespace in this tier's container prefix: what `modelcache shared
   * delete --all` runs after its confirmation. No library call ever uses it.
   */
  async deleteAllEntries(): Promise<number> {
    this.assertOpen();
    if (!this.update) return 0;
    return this.#deletePrefix(ENTRIES_ROOT);
  }

  async #deletePrefix(prefix: string): Promise<number> {
    const commits: BlobInfo[] = [];
    const rest: BlobInfo[] = [];
    for await (const b of this.list(prefix)) {
      const p = parseEntryName(b.name);
      (p && (p.type === 'v' || p.rest === MANIFEST) ? commits : rest).push(b);
    }
    let n = 0;
    for (const b of commits) if (await this.deleteBlob(b.name)) n++;
    for (const b of rest) await this.deleteBlob(b.name);
    return n;
  }

  /**
   * Removes upload folders no reader can see: those of file entries without a manifest, and
   * those a manifest does not name (lost races, killed retries), once their newest blob is older
   * than `graceMs` (an upload may still be running elsewhere). Resolves to the blobs removed
   * (with `dryRun`: that would be removed; nothing is deleted).
   */
  async collectUploads(options: { graceMs: number; now?: number; dryRun?: boolean }): Promise<number> {
    this.assertOpen();
    if (!this.update && !options.dryRun) return 0;
    const now = options.now ?? Date.now();
    const folders = new Map<string, { blobs: BlobInfo[]; newest: number; entry: string }>();
    const committed = new Map<string, string>(); // entry -> manifest name
    for await (const b of this.list(ENTRIES_ROOT)) {
      const p = parseEntryName(b.name);
      if (!p || p.type !== 'f') continue;
      const entry = `${p.ns}/${p.key}`;
      if (p.rest === MANIFEST) {
        committed.set(entry, b.name);
        continue;
      }
      const folder = `${entry}/${p.rest.slice(0, p.rest.indexOf('/'))}`;
      const f = folders.get(folder) ?? { blobs: [], newest: 0, entry };
      f.blobs.push(b);
      f.newest = Math.max(f.newest, b.lastModified);
      folders.set(folder, f);
    }
    let removed = 0;
    for (const [folder, f] of folders) {
      if (now - f.newest < options.graceMs) continue;
      const manifest = committed.get(f.entry);
      if (manifest) {
        // The manifest names the folder that won; read it to spare that one.
        const [ns, key] = f.entry.split('/');
        const hit = await this.lookupFiles(key, ns);
        if (!hit || `${f.entry}/${hit.upload}` === folder) continue;
      }
      if (options.dryRun) removed += f.blobs.length;
      else for (const b of f.blobs) if (await this.deleteBlob(b.name, { ifMatch: b.etag })) removed++;
    }
    return removed;
  }

  stats(): AzureTierStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** Splits `entries/<ns>/<v|f>/<key>[/<rest>]`. */
function parseEntryName(name: string): { ns: string; type: 'v' | 'f'; key: string; rest: string } | undefined {
  const m = /^entries\/([^/]+)\/([vf])\/([^/]+)(?:\/(.+))?$/.exec(name);
  return m ? { ns: m[1], type: m[2] as 'v' | 'f', key: m[3], rest: m[4] ?? '' } : undefined;
}
