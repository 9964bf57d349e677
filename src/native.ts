// Loads the compiled addon. This is the only module that touches the binary; everything else
// goes through the typed surface declared here. node-gyp-build picks the file: build/Release (a
// source build: a clone, or an install where no prebuild matched) before
// prebuilds/<platform>-<arch>/ (shipped in the package). PREBUILDS_ONLY=1 skips build/Release;
// MODELCACHE_PREBUILD=<package dir> loads another copy's addon (the tests use both).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CacheError } from './errors.js';

export interface NativeMappedFileHandle {
  readonly buffer: Uint8Array | null;
  readonly mapped: boolean;
  close(): void;
}

export interface NativeFrameInfo {
  codec: number;
  filter: number;
  elementSize: number;
  rawLength: number;
  chunkSize: number;
  chunkCount: number;
  checksum: bigint;
}

export interface NativeAddon {
  hash(data: Uint8Array): string;
  hashAsync(data: Uint8Array): Promise<string>;
  hashRows(data: Uint8Array, rowBytes: number): Buffer;
  treeHash(data: Uint8Array): string;
  treeHashAsync(data: Uint8Array): Promise<string>;
  hashFile(path: string, onProgress?: (done: number, total: number) => void): Promise<string>;
  compress(data: Uint8Array, codec: number, level: number, elementSize: number, chunkSize: number): Buffer;
  compressAsync(data: Uint8Array, codec: number, level: number, elementSize: number, chunkSize: number): Promise<Buffer>;
  decompress(frame: Uint8Array, maxRaw?: number): Buffer;
  decompressAsync(frame: Uint8Array, maxRaw?: number): Promise<Buffer>;
  inspectFrame(frame: Uint8Array): NativeFrameInfo;
  cast(data: Uint8Array, kind: number): Buffer;
  encrypt(data: Uint8Array, algorithm: number, key: Uint8Array, aad?: Uint8Array): Buffer;
  decrypt(data: Uint8Array, algorithm: number, key: Uint8Array, aad?: Uint8Array): Buffer;
  encryptAsync(data: Uint8Array, algorithm: number, key: Uint8Array, aad?: Uint8Array): Promise<Buffer>;
  decryptAsync(data: Uint8Array, algorithm: number, key: Uint8Array, aad?: Uint8Array): Promise<Buffer>;
  encryptChunked(data: Uint8Array, key: Uint8Array, aad: Uint8Array, chunkSize: number): Buffer;
  encryptChunkedAsync(data: Uint8Array, key: Uint8Array, aad: Uint8Array, chunkSize: number): Promise<Buffer>;
  MappedFileHandle: new (path: string) => NativeMappedFileHandle;
  poolThreads(): number;
}

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new CacheError('ERR_NATIVE', 'modelcache: cannot find the package root');
    dir = parent;
  }
  return dir;
}

const require = createRequire(import.meta.url);
const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };

// The command that builds the addon where it is missing or does not load.
const REBUILD = 'run `npm rebuild modelcache` to build it from source (a C++17 compiler and CMake >= 3.15 needed; ' +
  'in a clone of the repository, `npm install`)';

function locate(root: string): string {
  try {
    return nodeGypBuild.resolve(root);
  } catch (err) {
    throw new CacheError(
      'ERR_NATIVE',
      `modelcache: no native addon for ${process.platform}-${process.arch} in ${root}: no prebuilt one matches ` +
        `and none was built at install (were install scripts blocked?); ${REBUILD}`,
      { cause: err },
    );
  }
}

function load(): { addon: NativeAddon; path: string } {
  const root = packageRoot();
  const path = locate(root);
  try {
    return { addon: require(path) as NativeAddon, path };
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new CacheError(
      'ERR_NATIVE',
      `modelcache: the native addon ${path} does not load here (${reason}); ${REBUILD}`,
      { cause: err },
    );
  }
}

const loaded = load();

/** The loaded addon (loaded once, on first import). */
export const native: NativeAddon = loaded.addon;

/** The file the addon was loaded from (a prebuild under prebuilds/, or build/Release). */
export const addonPath: string = loaded.path;
