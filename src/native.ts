// Loads the compiled addon. This is the only module that touches the binary; everything else
// goes through the typed surface declared here.
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

function load(): NativeAddon {
  const root = packageRoot();
  const file = join(root, 'build', 'Release', 'modelcache.node');
  try {
    return createRequire(import.meta.url)(file) as NativeAddon;
  } catch (err) {
    throw new CacheError(
      'ERR_NATIVE',
      `modelcache: the native addon could not be loaded from ${file}; run \`npm install\` (or \`npx cmake-js compile\`) in ${root} to build it`,
      { cause: err },
    );
  }
}

/** The loaded addon (loaded once, on first import). */
export const native: NativeAddon = load();
