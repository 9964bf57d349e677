// File entries of a Cache: named files stored together, encrypted like values when the cache
// encrypts, kept in the local tier (a disk tier: paths to load, zero-copy maps) and uploaded to a
// shared tier in the background. A shared hit can be looked up without downloading anything and
// fetched later, with progress, verified before use.
import { readdirSync, rmSync } from 'node:fs';
import { mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { decryptAsync, encryptAsync, type Cipher } from '../cipher.js';
import { fileAad } from './codec.js';
import { CacheError } from '../errors.js';
import { warn } from '../log.js';
import { mapFile, type MappedFile } from '../mmap.js';
import { checkSources } from '../store/disk/files.js';
import { DEFAULT_NAMESPACE } from '../store/namespace.js';
import type { FileEntryInfo, FileSource, LocalFileEntry, ProgressCallback, PutMeta, StoredFile, Tier } from '../store/tier.js';

/** Options of `Cache.getFiles`. */
export interface GetFilesOptions {
  /** The entry's namespace (see {@link checkNamespace}). Default `'default'`. */
  namespace?: string;
  /** Check every file of a local entry against its hash (default true). */
  verify?: boolean;
  /** Download a shared hit's files at once (default true); `false`: only its manifest is read. */
  download?: boolean;
  /** Progress of a download: bytes so far and the total. */
  onProgress?: ProgressCallback;
  /** `false`: only the local tiers are asked. Default true. */
  shared?: boolean;
}

/** What `Cache.getOrComputeFiles` runs on a miss: writes files into `dir`, or returns them. */
export type ComputeFiles = (dir: string) => Promise<FileSource[] | void> | FileSource[] | void;

/** A file entry as a Cache hands it out. */
export interface CacheFileEntry extends FileEntryInfo {
  /** 'local': the files are on local disk (every file has a `path`); 'shared': only the manifest was read. */
  readonly location: 'local' | 'shared';
  /** The folder holding the files under their names (local entries). Valid until the entry is evicted. */
  readonly dir: string | undefined;
  /**
   * Every file of the entry. For an encrypted entry, `size` and `hash` describe the stored
   * ciphertext, not what {@link CacheFileEntry.read} returns.
   */
  readonly files: (StoredFile & {
    /**
     * Absolute path of the file's stored bytes: set for local entries, absent for a shared entry
     * until {@link CacheFileEntry.fetch}. Holds ciphertext when the entry is encrypted (use `read`).
     * Read-only: the file is shared with other readers and must not be changed.
     */
    path?: string;
  })[];
  /** The entry with its files on local disk: downloaded (and verified) first when shared. Undefined if that failed. */
  fetch(options?: { onProgress?: ProgressCallback }): Promise<CacheFileEntry | undefined>;
  /** The content of file `name`, decrypted when the entry is encrypted. */
  read(name: string): Promise<Buffer>;
  /** A zero-copy map of file `name` (local, unencrypted entries); close it when done. */
  map(name: string): MappedFile;
}

interface Deps {
  tiers: readonly Tier[];
  local: Tier | undefined;
  cipher: Cipher | undefined;
  track(p: Promise<unknown>): void;
  counted(ns: string, key: string, hit: boolean): void;
}

export class FileEntries {
  readonly #d: Deps;

  constructor(deps: Deps) {
    this.#d = deps;
  }

  #localTier(): Tier {
    const t = this.#d.local;
    if (!t?.putFiles || !t.getFiles || !t.workPath) throw new CacheError('ERR_BAD_INPUT', 'file entries need a cache with a disk tier (dir)');
    return t;
  }

  /** `options` checked by the caller (cache/args.ts). */
  async put(key: string, files: readonly FileSource[], options: PutMeta & { shared?: boolean }): Promise<boolean> {
    const ns = options.namespace ?? DEFAULT_NAMESPACE;
    let sources = checkSources(files);
    const local = this.#localTier();
    const cipher = this.#d.cipher;
    if (cipher) {
      // The same cipher as values; the disk tier stores (and hashes) the ciphertext.
      // Each file bound to its entry and name: moved to another entry or name, it fails to decrypt.
      sources = await Promise.all(sources.map(async (s) => ({ name: s.name, data: await encryptAsync('data' in s ? s.data : await readFile(s.path), cipher, { aad: fileAad(ns, key, s.name) }) })));
    }
    const meta = { namespace: ns, encrypted: cipher !== undefined, ...(options.kind !== undefined ? { kind: options.kind } : {}), ...(options.meta !== undefined ? { meta: options.meta } : {}) };
    const ok = await local.putFiles!(key, sources, meta);
    // Moved in as ciphertext: the caller's plaintext work files go once the entry is stored.
    if (ok && cipher) await Promise.all(files.map((s) => ('path' in s && s.move ? unlink(s.path).catch(() => {}) : undefined)));
    if (ok && options.shared !== false) for (const t of this.#d.tiers) if (t.shared && t.uploadFiles) this.#d.track(this.#upload(t, local, key, ns));
    return ok;
  }

  async #upload(shared: Tier, local: Tier, key: string, ns: string): Promise<void> {
    await local.flush?.();
    const entry = await local.getFiles!(key, ns, { verify: false });
    if (entry && !(await shared.uploadFiles!(entry))) warn('ERR_TIER', `file entry ${ns}/${key} could not be uploaded to the ${shared.name} tier`);
  }

  /** `options` checked by the caller (cache/args.ts). */
  async get(key: string, options: GetFilesOptions, count = true): Promise<CacheFileEntry | undefined> {
    const ns = options.namespace ?? DEFAULT_NAMESPACE;
    for (const t of this.#d.tiers) {
      if (t.shared || !t.getFiles) continue;
      const e = await t.getFiles(key, ns, { verify: options.verify !== false });
      if (e) {
        if (count) this.#d.counted(ns, key, true);
        return this.#handle(e, undefined);
      }
    }
    for (const t of this.#d.tiers) {
      if (!t.shared || !t.lookupFiles || options.shared === false) continue;
      const info = await t.lookupFiles(key, ns);
      if (!info) continue;
      const remote = this.#handle(info, t);
      const found = options.download === false ? remote : await remote.fetch(options.onProgress ? { onProgress: options.onProgress } : {});
      if (found) {
        if (count) this.#d.counted(ns, key, true);
        return found;
      }
    }
    if (count) this.#d.counted(ns, key, false);
    return undefined;
  }

  /** Downloads a shared entry into the local tier and returns the local entry. */
  async #fetch(info: FileEntryInfo, shared: Tier, onProgress: ProgressCallback | undefined): Promise<CacheFileEntry | undefined> {
    const local = this.#localTier();
    const work = local.workPath!();
    try {
      await mkdir(work, { recursive: true, mode: 0o700 });
      if (!(await shared.downloadFiles!(info, work, onProgress ? { onProgress } : {}))) return undefined;
      const sources = info.files.map((f) => ({ name: f.name, path: join(work, ...f.name.split('/')), move: true }));
      const meta = { namespace: info.namespace, kind: info.kind, encrypted: info.encrypted, ...(info.meta !== undefined ? { meta: info.meta } : {}) };
      if (!(await local.putFiles!(info.key, sources, meta))) return undefined;
      await local.flush?.();
      const e = await local.getFiles!(info.key, info.namespace, { verify: false }); // verified by the download
      return e && this.#handle(e, undefined);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  async getOrCompute(
    key: string,
    compute: ComputeFiles,
    options: GetFilesOptions & PutMeta & { namespace: string },
    locked: (lookup: () => Promise<CacheFileEntry | undefined>, produce: () => Promise<CacheFileEntry>) => Promise<CacheFileEntry>,
  ): Promise<CacheFileEntry> {
    const hit = await this.get(key, options);
    if (hit) return hit;
    const local = this.#localTier();
    // Looked up again inside the lock, and read back after the put: counted once, above.
    return locked(() => this.get(key, options, false), async () => {
      const work = local.workPath!();
      await mkdir(work, { recursive: true, mode: 0o700 });
      const given = await compute(work);
      const sources = given ?? listFiles(work).map((name) => ({ name, path: join(work, ...name.split('/')), move: true }));
      const stored = (await this.put(key, sources, options)) ? await this.get(key, { ...options, verify: false, download: false }, false) : undefined;
      if (stored) {
        rmSync(work, { recursive: true, force: true });
        return stored;
      }
      // Not stored (a full disk, too large): the caller still gets its files, where they are.
      warn('ERR_TIER', `file entry ${options.namespace}/${key} could not be stored; using it uncached`);
      return this.#handle(await uncached(key, options, work, sources), undefined);
    });
  }

  #handle(e: FileEntryInfo | LocalFileEntry, shared: Tier | undefined): CacheFileEntry {
    const cipher = this.#d.cipher;
    const local = shared === undefined;
    const self: CacheFileEntry = {
      ...e,
      location: local ? 'local' : 'shared',
      dir: local ? (e as LocalFileEntry).dir : undefined,
      files: e.files.map((f) => ({ ...f })),
      fetch: async (options = {}) => (local ? self : this.#fetch(e, shared, options.onProgress)),
      read: async (name) => {
        const target = local ? self : await self.fetch();
        const path = target?.files.find((f) => f.name === name)?.path;
        if (!path) throw new CacheError('ERR_BAD_INPUT', `file entry ${e.namespace}/${e.key} has no file ${JSON.stringify(name)}${target ? '' : ' on local disk'}`);
        if (!e.encrypted) return readFile(path);
        if (!cipher) throw new CacheError('ERR_DECRYPT', `file entry ${e.namespace}/${e.key} is encrypted and this cache has no encryption`);
        const aad = { aad: fileAad(e.namespace, e.key, name) };
        if ('encrypt' in cipher) return decryptAsync(await readFile(path), cipher, aad);
        // Decrypted (in parallel chunks) straight from a map of the file: no copy of the ciphertext.
        const mapped = mapFile(path);
        try {
          return await decryptAsync(mapped.buffer, cipher, aad);
        } finally {
          mapped.close();
        }
      },
      map: (name) => {
        const path = self.files.find((f) => f.name === name)?.path;
        if (!path || e.encrypted) throw new CacheError('ERR_BAD_INPUT', `file ${JSON.stringify(name)} of ${e.namespace}/${e.key} cannot be mapped (${e.encrypted ? 'encrypted: use read()' : 'not on local disk'})`);
        return mapFile(path);
      },
    };
    return self;
  }
}

/** An entry that is not stored: its files where they are (bytes written into `dir`). */
async function uncached(key: string, o: { namespace: string; kind?: string; meta?: Record<string, unknown> }, dir: string, sources: readonly FileSource[]): Promise<LocalFileEntry> {
  const files = await Promise.all(sources.map(async (s) => {
    if ('path' in s) return { name: s.name, size: 0, hash: '', path: s.path };
    const path = join(dir, ...s.name.split('/'));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, s.data, { mode: 0o600 });
    return { name: s.name, size: s.data.byteLength, hash: '', path };
  }));
  return { namespace: o.namespace, key, kind: o.kind ?? '', meta: o.meta, created: Date.now(), size: 0, encrypted: false, files, dir };
}

/** Every file under `dir`, as '/'-separated names relative to it. */
function listFiles(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .filter((d) => d.isFile())
    .map((d) => relative(dir, join((d as unknown as { parentPath?: string; path: string }).parentPath ?? d.path, d.name)).split(sep).join('/'));
}
