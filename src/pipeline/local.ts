// Pass outputs on local disk: `<dir>/pipeline/outputs/<id>/` holds `manifest.json` and `model/`.
// An output is built in `tmp/` and renamed into place whole, so a reader sees all of it or nothing,
// and of two racing writers the first rename wins and the other discards its copy (never mixed).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CacheError } from '../errors.js';
import { hashFile } from '../hash.js';
import { logDebug, warn } from '../log.js';
import { HOST as TMP_HOST, isStaleWork } from '../store/work.js';
import { parseManifest, type OutputManifest } from './manifest.js';

const STALE_TMP_MS = 24 * 3600_000;
// An output used this recently is never evicted: another process may be loading its files.
const IN_USE_MS = 60_000;
const EVICT_TARGET = 0.95;

/** The output store of one local cache directory. */
export class LocalStore {
  /** `<dir>/pipeline`. */
  readonly root: string;
  readonly readOnly: boolean;
  /** Upper bound of the bytes of stored outputs; least recently used ones are evicted past it. */
  readonly maxBytes: number;
  readonly #outputs: string;
  readonly #tmp: string;

  constructor(cacheDir: string, options: { readOnly?: boolean; maxBytes?: number } = {}) {
    this.root = join(cacheDir, 'pipeline');
    this.readOnly = Boolean(options.readOnly);
    this.maxBytes = options.maxBytes ?? 10e9;
    this.#outputs = join(this.root, 'outputs');
    this.#tmp = join(this.root, 'tmp');
    if (!this.readOnly) {
      for (const d of [this.#outputs, this.#tmp]) mkdirSync(d, { recursive: true, mode: 0o700 });
      this.#cleanStaleTmp();
    }
  }

  #entryDir(id: string): string {
    return join(this.#outputs, id);
  }

  /** Removes work folders of writers that are gone (this host, dead pid) or older than a day. */
  #cleanStaleTmp(): void {
    for (const name of safeReaddir(this.#tmp)) {
      if (!isStaleWork(this.#tmp, name, STALE_TMP_MS)) continue;
      rmSync(join(this.#tmp, name), { recursive: true, force: true });
      logDebug(`pipeline: removed stale work folder ${name}`);
    }
  }


  /** The manifest of output `id`, if it is stored here. */
  async lookup(id: string): Promise<OutputManifest | undefined> {
    let text: string;
    try {
      text = await readFile(join(this.#entryDir(id), 'manifest.json'), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const m = parseManifest(text, id);
      // Recency for eviction: the output folder's mtime is its last use.
      if (!this.readOnly) {
        const now = new Date();
        await utimes(this.#entryDir(id), now, now).catch(() => {});
      }
      return m;
    } catch (err) {
      warn('ERR_CORRUPT', `pipeline output ${id} in ${this.root} has a bad manifest (${(err as Error).message}); dropped`);
      await this.remove(id);
      return undefined;
    }
  }

  /** The model's path: the file of a file model, the folder of a directory model. */
  modelPath(m: OutputManifest): string {
    const dir = join(this.#entryDir(m.id), 'model');
    return m.kind === 'file' ? join(dir, m.main!) : dir;
  }

  /** Absolute paths of the model's files. */
  filePaths(m: OutputManifest): string[] {
    const dir = join(this.#entryDir(m.id), 'model');
    return m.files.map((f) => join(dir, ...f.path.split('/')));
  }

  /**
   * Checks every file of output `m` against its manifest. A damaged output is removed (unless
   * this store is read-only) and reported; the caller treats it as a miss.
   */
  async verify(m: OutputManifest): Promise<boolean> {
    const paths = this.filePaths(m);
    for (let i = 0; i < paths.length; i++) {
      const f = m.files[i];
      let why: string | undefined;
      try {
        const st = await stat(paths[i]);
        if (st.size !== f.size) why = `${f.path} is ${st.size} bytes, expected ${f.size}`;
        else if ((await hashFile(paths[i])) !== f.hash) why = `${f.path} does not match its hash`;
      } catch {
        why = `${f.path} is missing`;
      }
      if (why) {
        warn('ERR_CORRUPT', `pipeline output ${m.id} in ${this.root} is damaged (${why}); dropped`);
        await this.remove(m.id);
        return false;
      }
    }
    return true;
  }

  /** A fresh work folder in tmp/ (same filesystem as outputs/), with an empty `model/` inside. */
  async workDir(): Promise<string> {
    if (this.readOnly) throw new CacheError('ERR_BAD_INPUT', `pipeline cache ${this.root} is read-only`);
    const dir = join(this.#tmp, `${TMP_HOST}-${process.pid}-${randomBytes(6).toString('hex')}`);
    await mkdir(join(dir, 'model'), { recursive: true, mode: 0o700 });
    return dir;
  }

  /**
   * Publishes a work folder (files in `model/`) as output `m.id`: writes the manifest into it and
   * renames it into place. When another writer got there first, ours is discarded and theirs is
   * returned.
   */
  async commit(work: string, m: OutputManifest): Promise<OutputManifest> {
    await writeFile(join(work, 'manifest.json'), JSON.stringify(m), { mode: 0o600 });
    try {
      await rename(work, this.#entryDir(m.id));
      await this.#evictIfOver(m.id);
      return m;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') {
        await this.discard(work);
        throw err;
      }
    }
    await this.discard(work);
    const theirs = await this.lookup(m.id);
    if (theirs) return theirs;
    throw new CacheError('ERR_IO', `pipeline output ${m.id} could not be published in ${this.root}`);
  }

  /** Removes a work folder. */
  async discard(work: string): Promise<void> {
    await rm(work, { recursive: true, force: true });
  }

  /** Removes output `id`: renamed away first, so readers never see it half deleted. */
  async remove(id: string): Promise<void> {
    if (this.readOnly) return;
    const gone = join(this.#tmp, `${TMP_HOST}-${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      await rename(this.#entryDir(id), gone);
    } catch {
      return; // not there (or removed by someone else)
    }
    await rm(gone, { recursive: true, force: true });
  }

  /** Every stored output with its size and last use (folder mtime), least recently used first. */
  async usage(): Promise<{ id: string; size: number; used: number }[]> {
    const out: { id: string; size: number; used: number }[] = [];
    for (const id of this.ids()) {
      try {
        const dir = this.#entryDir(id);
        const [st, text] = await Promise.all([stat(dir), readFile(join(dir, 'manifest.json'), 'utf8')]);
        out.push({ id, size: parseManifest(text, id).size, used: st.mtimeMs });
      } catch {
        /* removed meanwhile, or damaged: lookup() drops damaged ones */
      }
    }
    return out.sort((a, b) => a.used - b.used);
  }

  /**
   * Removes least recently used outputs until at most `maxBytes` remain; outputs used in the last
   * minute (possibly being loaded elsewhere) and `keep` are spared. Returns what was removed.
   */
  async prune(maxBytes = this.maxBytes, keep?: string): Promise<{ removed: number; bytes: number }> {
    if (this.readOnly) return { removed: 0, bytes: 0 };
    const all = await this.usage();
    let total = all.reduce((a, o) => a + o.size, 0);
    let removed = 0;
    let bytes = 0;
    const recent = Date.now() - IN_USE_MS;
    for (const o of all) {
      if (total <= maxBytes) break;
      if (o.id === keep || o.used > recent) continue;
      await this.remove(o.id);
      total -= o.size;
      bytes += o.size;
      removed++;
    }
    if (removed > 0) logDebug(`pipeline: evicted ${removed} output(s), ${bytes} bytes, from ${this.root}`);
    return { removed, bytes };
  }

  async #evictIfOver(keep: string): Promise<void> {
    if (this.maxBytes === Infinity) return;
    const total = (await this.usage()).reduce((a, o) => a + o.size, 0);
    if (total > this.maxBytes) await this.prune(Math.floor(this.maxBytes * EVICT_TARGET), keep);
  }

  /** Ids of the outputs stored here. */
  ids(): string[] {
    if (!existsSync(this.#outputs)) return [];
    return readdirSync(this.#outputs).filter((n) => /^[0-9a-f]{32}$/.test(n));
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
