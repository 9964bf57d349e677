// Pass outputs on local disk: `<dir>/pipeline/outputs/<id>/` holds `manifest.json` and `model/`.
// An output is built in `tmp/` and renamed into place whole, so a reader sees all of it or nothing,
// and of two racing writers the first rename wins and the other discards its copy (never mixed).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CacheError } from '../errors.js';
import { hashFile } from '../hash.js';
import { logDebug, warn } from '../log.js';
import { HOST as TMP_HOST, isPidAlive } from '../proc.js';
import { parseManifest, type OutputManifest } from './manifest.js';

const STALE_TMP_MS = 24 * 3600_000;

/** The output store of one local cache directory. */
export class LocalStore {
  /** `<dir>/pipeline`. */
  readonly root: string;
  readonly readOnly: boolean;
  readonly #outputs: string;
  readonly #tmp: string;

  constructor(cacheDir: string, options: { readOnly?: boolean } = {}) {
    this.root = join(cacheDir, 'pipeline');
    this.readOnly = Boolean(options.readOnly);
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
    let names: string[];
    try {
      names = readdirSync(this.#tmp);
    } catch {
      return;
    }
    for (const name of names) {
      const m = /^(.*)-(\d+)-[0-9a-f]+$/.exec(name);
      let old = false;
      try {
        old = Date.now() - statSync(join(this.#tmp, name)).mtimeMs > STALE_TMP_MS;
      } catch {
        continue;
      }
      const dead = m !== null && m[1] === TMP_HOST && Number(m[2]) !== process.pid && !isPidAlive(Number(m[2]));
      if (old || dead) {
        rmSync(join(this.#tmp, name), { recursive: true, force: true });
        logDebug(`pipeline: removed stale work folder ${name}`);
      }
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
      return parseManifest(text, id);
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

  /** Ids of the outputs stored here. */
  ids(): string[] {
    if (!existsSync(this.#outputs)) return [];
    return readdirSync(this.#outputs).filter((n) => /^[0-9a-f]{32}$/.test(n));
  }
}
