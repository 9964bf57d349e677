// The bad-input catalogue: what users get wrong, across the public API and the CLI. Each case
// asserts the error class, its stable `code`, and that the message names the argument (or the
// resource) and never echoes a secret. A refusal comes when the argument is given, never later.
import { spawnSync } from 'node:child_process';
import { randomBytes as cryptoRandom } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AzureBlobTier, Cache, CacheError, cacheKey, castFloat32ToFloat16, compress, decompress, decompressAsync, DiskTier, encrypt, decrypt,
  hash, hashFile, hashRows, inspectFrame, mapFile, MemoryTier, tensorCache, treeHash,
} from '../src/index.js';
import { InferenceSession } from '../src/ort/index.js';
import { Pipeline } from '../src/pipeline/index.js';
import { tempDir } from './helpers.js';

const root = tempDir('modelcache-bad-input-');
let n = 0;
const newDir = () => join(root, `d${n++}`);
const K = 'k'.padEnd(32, '0');
const bytes = Buffer.from('value');
const aes = { algorithm: 'aes-256-gcm' as const, key: cryptoRandom(32) };
const SECRET_KEY = 'not-hex-and-far-too-short-secret';

const file = join(root, 'a-file');
writeFileSync(file, 'x');
const dangling = join(root, 'dangling');
symlinkSync(join(root, 'nowhere'), dangling);
const missing = join(root, 'missing.onnx');

const cache = new Cache({ dir: newDir(), maxMemoryBytes: 1 << 20 });
const closed = new Cache({ dir: false });
await closed.close();
const disk = new DiskTier({ dir: newDir() });
const readOnlyDir = newDir();
await new DiskTier({ dir: readOnlyDir }).close();
const readOnly = new DiskTier({ dir: readOnlyDir, readOnly: true });
const memory = new MemoryTier();
afterAll(async () => {
  await cache.close();
  await disk.close();
  await readOnly.close();
});

let deep: unknown = 1;
for (let i = 0; i < 20_000; i++) deep = [deep];

type ErrorClass = typeof TypeError | typeof RangeError | typeof CacheError;

interface Case {
  /** The call, as a user would write it. */
  call: string;
  run: () => unknown;
  error: ErrorClass;
  code: string;
  /** What the message must name (the argument, the option, the resource). */
  names: string | RegExp;
}

const c = (call: string, run: () => unknown, error: ErrorClass, code: string, names: string | RegExp): Case => ({ call, run, error, code, names });
const T = TypeError;
const R = RangeError;
const E = CacheError;
const BAD = 'ERR_BAD_INPUT';

const cases: Case[] = [
  // ---------------------------------------------------------------------------------- Cache
  c("new Cache('dir')", () => new Cache('dir' as never), T, BAD, 'options'),
  c('new Cache({ dirr })', () => new Cache({ dirr: 'x' } as never), T, BAD, '"dirr"'),
  c('new Cache({ maxMemoryBytes: -1 })', () => new Cache({ maxMemoryBytes: -1, dir: false }), R, BAD, 'options.maxMemoryBytes'),
  c("new Cache({ maxDiskBytes: '5GB' })", () => new Cache({ maxDiskBytes: '5GB' as never }), T, BAD, 'options.maxDiskBytes'),
  c("new Cache({ compression: 'gzip' })", () => new Cache({ compression: 'gzip' as never, dir: false }), T, BAD, 'options.compression'),
  c('new Cache({ compression: { level: 99 } })', () => new Cache({ compression: { codec: 'zstd', level: 99 }, dir: false }), R, BAD, 'options.level'),
  c("new Cache({ encryption: { algorithm: 'rot13' } })", () => new Cache({ encryption: { algorithm: 'rot13', key: 'x' } as never, dir: false }), T, BAD, 'options.encryption.algorithm'),
  c('new Cache({ encryption: short hex key })', () => new Cache({ encryption: { algorithm: 'aes-256-gcm', key: SECRET_KEY }, dir: false }), T, BAD, 'options.encryption.key'),
  c('new Cache({ encryption: 31-byte key })', () => new Cache({ encryption: { algorithm: 'aes-256-gcm', key: Buffer.alloc(31) }, dir: false }), R, BAD, 'options.encryption.key'),
  c('new Cache({ encryption: { encrypt } })', () => new Cache({ encryption: { encrypt: (b: Buffer) => b } as never, dir: false }), T, BAD, 'options.encryption.decrypt'),
  c('new Cache({ shared: {} })', () => new Cache({ shared: {} as never, dir: false }), T, BAD, 'options.shared'),
  c("new Cache({ tiers: 'memory' })", () => new Cache({ tiers: 'memory' as never }), T, BAD, 'options.tiers'),
  c("new Cache({ dir: '' })", () => new Cache({ dir: '' }), T, BAD, 'options.dir'),
  c('new Cache({ dir: a file })', () => new Cache({ dir: file }), E, BAD, 'options.dir'),
  c('new Cache({ dir: a dangling link })', () => new Cache({ dir: dangling }), E, BAD, 'options.dir'),
  c('new Cache({ lockWaitMs: -1 })', () => new Cache({ lockWaitMs: -1, dir: false }), R, BAD, 'options.lockWaitMs'),
  c('new Cache({ maxValueBytes: 0 })', () => new Cache({ maxValueBytes: 0, dir: false }), R, BAD, 'options.maxValueBytes'),
  c("cache.put('model/v1', v)", () => cache.put('model/v1', bytes), T, BAD, 'key'),
  c("cache.put('', v)", () => cache.put('', bytes), T, BAD, 'key'),
  c('cache.put(42, v)', () => cache.put(42 as never, bytes), T, BAD, 'key'),
  c("cache.put('....x', v)", () => cache.put('....x', bytes), T, BAD, 'key'),
  c('cache.put(k, 42)', () => cache.put(K, 42 as never), T, BAD, 'value'),
  c("cache.put(k, v, { namespace: 'Models' })", () => cache.put(K, bytes, { namespace: 'Models' }), T, BAD, 'options.namespace'),
  c("cache.put(k, v, { namspace })", () => cache.put(K, bytes, { namspace: 'x' } as never), T, BAD, '"namspace"'),
  c('cache.put(k, v, { meta: { f: fn } })', () => cache.put(K, bytes, { meta: { f: () => 1 } }), T, BAD, 'options.meta'),
  c('cache.put(k, v, { meta: { n: 1n } })', () => cache.put(K, bytes, { meta: { n: 1n } }), T, BAD, 'options.meta'),
  c('cache.put(k, v, { meta: [1] })', () => cache.put(K, bytes, { meta: [1] as never }), T, BAD, 'options.meta'),
  c('cache.put(k, v, { meta: 100 KB })', () => cache.put(K, bytes, { meta: { s: 'x'.repeat(100_000) } }), R, BAD, 'options.meta'),
  c('cache.put(k, v, { kind: 42 })', () => cache.put(K, bytes, { kind: 42 as never }), T, BAD, 'options.kind'),
  c('cache.put(k, v, { elementSize: 0 })', () => cache.put(K, bytes, { elementSize: 0 }), R, BAD, 'options.elementSize'),
  c("cache.get('..')", () => cache.get('..'), T, BAD, 'key'),
  c("cache.get(k, { namespace: '' })", () => cache.get(K, { namespace: '' }), T, BAD, 'options.namespace'),
  c("cache.getMany('abc')", () => cache.getMany('abc' as never), T, BAD, 'keys'),
  c('cache.getMany([k, 7])', () => cache.getMany([K, 7 as never]), T, BAD, 'keys[1]'),
  c('cache.getMany(keys, { borow })', () => cache.getMany([K], { borow: true } as never), T, BAD, '"borow"'),
  c("cache.getOrCompute(k, 'not a function')", () => cache.getOrCompute(K, 'not a function' as never), T, BAD, 'compute'),
  c('cache.getOrCompute(k, fn, { lockWaitMs: -1 })', () => cache.getOrCompute(K, () => bytes, { lockWaitMs: -1 }), R, BAD, 'options.lockWaitMs'),
  c("cache.getOrCompute(k, fn, { lock: 'no' })", () => cache.getOrCompute(K, () => bytes, { lock: 'no' as never }), T, BAD, 'options.lock'),
  c("cache.has('a/b')", () => cache.has('a/b'), T, BAD, 'key'),
  c("cache.delete('.')", () => cache.delete('.'), T, BAD, 'key'),
  c("cache.putFiles(k, 'model.onnx')", () => cache.putFiles(K, 'model.onnx' as never), T, BAD, 'files'),
  c("cache.putFiles(k, [{ name: '../x' }])", () => cache.putFiles(K, [{ name: '../x', data: bytes }]), T, BAD, 'files name'),
  c("cache.putFiles(k, [{ name: 'a' }, { name: 'A' }])", () => cache.putFiles(K, [{ name: 'a', data: bytes }, { name: 'A', data: bytes }]), T, BAD, 'files name'),
  c("cache.getFiles(k, { verify: 'yes' })", () => cache.getFiles(K, { verify: 'yes' as never }), T, BAD, 'options.verify'),
  c('cache.getFiles(k, { onProgress: 1 })', () => cache.getFiles(K, { onProgress: 1 as never }), T, BAD, 'options.onProgress'),
  c("cache.getOrComputeFiles(k, 'dir')", () => cache.getOrComputeFiles(K, 'dir' as never), T, BAD, 'compute'),
  c("cache.count('../x')", () => cache.count('../x'), T, BAD, 'namespace'),
  c("cache.deleteNamespace('')", () => cache.deleteNamespace(''), T, BAD, 'namespace'),
  c('closed cache.get(k)', () => closed.get(K), E, 'ERR_CLOSED', 'closed'),

  // ---------------------------------------------------------------------------------- tiers
  c('new DiskTier()', () => new DiskTier(undefined as never), T, BAD, 'options'),
  c('new DiskTier({ dir: 5 })', () => new DiskTier({ dir: 5 as never }), T, BAD, 'options.dir'),
  c('new DiskTier({ dir, maxBytes: 1.5 })', () => new DiskTier({ dir: newDir(), maxBytes: 1.5 }), R, BAD, 'options.maxBytes'),
  c("new DiskTier({ dir, readOnly: 'yes' })", () => new DiskTier({ dir: newDir(), readOnly: 'yes' as never }), T, BAD, 'options.readOnly'),
  c('new DiskTier({ dir, inlineThreshold: -1 })', () => new DiskTier({ dir: newDir(), inlineThreshold: -1 }), R, BAD, 'options.inlineThreshold'),
  c('new DiskTier({ dir: a dangling link })', () => new DiskTier({ dir: dangling }), E, BAD, 'options.dir'),
  c('new DiskTier({ dir: under a file })', () => new DiskTier({ dir: join(file, 'cache') }), E, BAD, 'options.dir'),
  c("disk.put('....x', v)", () => disk.put('....x', bytes), T, BAD, 'key'),
  c('disk.put(k, v, { meta: [1] })', () => disk.put(K, bytes, { meta: [1] as never }), T, BAD, 'meta.meta'),
  c("disk.put(k, v, { namespace: 'a..b' })", () => disk.put(K, bytes, { namespace: 'a..b' }), T, BAD, 'namespace'),
  c("disk.putFiles(k, [{ name: 'a' }])", () => disk.putFiles(K, [{ name: 'a' } as never]), T, BAD, 'files[0]'),
  c('disk.prune(-1)', () => disk.prune(-1), R, BAD, 'maxBytes'),
  c("disk.lock(k, 'Bad NS')", () => disk.lock(K, 'Bad NS'), T, BAD, 'namespace'),
  c('read-only disk.put(k, v)', () => readOnly.put(K, bytes), E, BAD, 'read-only'),
  c('new MemoryTier({ maxBytes: -1 })', () => new MemoryTier({ maxBytes: -1 }), R, BAD, 'options.maxBytes'),
  c('new MemoryTier({ dispose: 1 })', () => new MemoryTier({ dispose: 1 as never }), T, BAD, 'options.dispose'),
  c("memory.put('..', v)", () => memory.put('..', bytes), T, BAD, 'key'),
  c("new AzureBlobTier({ prefix: '../other/' })", () => new AzureBlobTier({ containerUrl: 'https://acct.blob.core.windows.net/c', prefix: '../other/' }), T, BAD, 'options.prefix'),
  c('new AzureBlobTier({ blockSize: 1 })', () => new AzureBlobTier({ containerUrl: 'https://acct.blob.core.windows.net/c', blockSize: 1 }), R, BAD, 'options.blockSize'),
  c("new AzureBlobTier({ containerUrl: 'ftp://x' })", () => new AzureBlobTier({ containerUrl: 'ftp://x/c' }), T, BAD, 'options.containerUrl'),
  c("azure.put('../x', v)", () => new AzureBlobTier({ containerUrl: 'https://acct.blob.core.windows.net/c' }).put('../x', bytes), T, BAD, 'key'),

  // ---------------------------------------------------------------------------------- keys, tensorCache
  c('cacheKey(42)', () => cacheKey(42 as never), T, BAD, 'namespace'),
  c('cacheKey(ns, () => 1)', () => cacheKey('ns', () => 1), T, BAD, 'args[0]'),
  c('cacheKey(ns, { cb: Symbol() })', () => cacheKey('ns', { cb: Symbol('x') }), T, BAD, 'args[0].cb'),
  c('cacheKey(ns, new Map())', () => cacheKey('ns', 1, new Map()), T, BAD, 'args[1]'),
  c('cacheKey(ns, 20,000 nested arrays)', () => cacheKey('ns', deep), R, BAD, 'args[0]'),
  c('tensorCache({ maxMemoryBytes: -1 })', () => tensorCache({ maxMemoryBytes: -1 }), R, BAD, 'maxMemoryBytes'),
  c("tensorCache({ cacheDtype: 'float8' })", () => tensorCache({ cacheDtype: 'float8' as never }), T, BAD, 'cacheDtype'),
  c('tensorCache({ enabeld: true })', () => tensorCache({ enabeld: true } as never), T, BAD, '"enabeld"'),

  // ---------------------------------------------------------------------------------- codec, cipher, hash, mmap
  c("compress(v, { codec: 'gzip' })", () => compress(bytes, { codec: 'gzip' as never }), T, BAD, 'options.codec'),
  c('compress(v, { level: 99 })', () => compress(bytes, { level: 99 }), R, BAD, 'options.level'),
  c('compress(v, { chunksize: 1 })', () => compress(bytes, { chunksize: 1 } as never), T, BAD, '"chunksize"'),
  c('compress(42)', () => compress(42 as never), T, BAD, 'data'),
  c("decompress('not a frame' bytes)", () => decompress(Buffer.from('not a frame at all, no')), E, 'ERR_CORRUPT', 'frame'),
  c('decompress(frame, { maxBytes: -1 })', () => decompress(compress(bytes), { maxBytes: -1 }), R, BAD, 'options.maxBytes'),
  c('decompressAsync(frame claiming more than maxBytes)', () => decompressAsync(compress(Buffer.alloc(1000)), { maxBytes: 10 }), E, 'ERR_CORRUPT', 'exceeds the limit'),
  c('inspectFrame(truncated)', () => inspectFrame(compress(bytes).subarray(0, 10)), E, 'ERR_CORRUPT', 'header'),
  c('encrypt(v, 31-byte key)', () => encrypt(bytes, { algorithm: 'aes-256-gcm', key: Buffer.alloc(31) }), R, BAD, 'cipher.key'),
  c('encrypt(v, null)', () => encrypt(bytes, null as never), T, BAD, 'cipher'),
  c('encrypt(v, { encrypt: 1, decrypt })', () => encrypt(bytes, { encrypt: 1, decrypt: (b: Buffer) => b } as never), T, BAD, 'cipher.encrypt'),
  c('encrypt(v, aes, { aad: 5 })', () => encrypt(bytes, aes, { aad: 5 as never }), T, BAD, 'options.aad'),
  c('decrypt(garbage, aes)', () => decrypt(Buffer.from('garbage'), aes), E, 'ERR_CORRUPT', 'decrypt'),
  c('decrypt(v, another key)', () => decrypt(encrypt(bytes, aes), { algorithm: 'aes-256-gcm', key: cryptoRandom(32) }), E, 'ERR_DECRYPT', 'wrong key'),
  c('decrypt(v, aes, another aad)', () => decrypt(encrypt(bytes, aes, { aad: 'a' }), aes, { aad: 'b' }), E, 'ERR_DECRYPT', 'decrypt'),
  c('hash(42)', () => hash(42 as never), T, BAD, 'data'),
  c('treeHash(null)', () => treeHash(null as never), T, BAD, 'data'),
  c('hashRows(v, 0)', () => hashRows(bytes, 0), R, BAD, 'rowBytes'),
  c('hashFile(missing)', () => hashFile(missing), E, 'ERR_IO', missing),
  c('mapFile(missing)', () => mapFile(missing), E, 'ERR_IO', missing),
  c("castFloat32ToFloat16('x')", () => castFloat32ToFloat16('x' as never), T, BAD, 'data'),

  // ---------------------------------------------------------------------------------- Pipeline, InferenceSession
  c("new Pipeline({ cacheFailures: 'yes' })", () => new Pipeline({ cacheFailures: 'yes' as never }), T, BAD, 'options.cacheFailures'),
  c('new Pipeline({ onEvent: 1 })', () => new Pipeline({ onEvent: 1 as never }), T, BAD, 'options.onEvent'),
  c('new Pipeline({ acelerator })', () => new Pipeline({ acelerator: {} } as never), T, BAD, '"acelerator"'),
  c('new Pipeline({ maxLocalBytes: -1 })', () => new Pipeline({ maxLocalBytes: -1 }), R, BAD, 'options.maxLocalBytes'),
  c("InferenceSession.create(m, { cache: 'yes' })", () => InferenceSession.create(missing, { cache: 'yes' as never }), T, BAD, 'options.cache'),
  c("InferenceSession.create(m, { cache: { mode: 'fast' } })", () => InferenceSession.create(missing, { cache: { mode: 'fast' as never } }), T, BAD, 'options.cache.mode'),
  c('InferenceSession.create(m, { cache: { dirr } })', () => InferenceSession.create(missing, { cache: { dirr: 'x' } as never }), T, BAD, '"dirr"'),
];

async function failure(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('the bad-input catalogue (API)', () => {
  it('has at least 60 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
  });

  it.each(cases.map((k) => [k.call, k] as const))('%s', async (_name, k) => {
    const err = (await failure(k.run)) as Error & { code?: unknown };
    expect(err, 'no error').toBeInstanceOf(Error);
    expect({ class: err.constructor.name, code: err.code }).toEqual({ class: k.error.name, code: k.code });
    if (typeof k.names === 'string') expect(err.message).toContain(k.names);
    else expect(err.message).toMatch(k.names);
    expect(err.message).not.toContain(SECRET_KEY);
  });
});

// ---------------------------------------------------------------------------------- CLI

const CLI = resolve(import.meta.dirname, '../dist/cli/main.js');
const cacheDir = join(root, 'cli-cache');
await new DiskTier({ dir: cacheDir }).close();
const notACache = join(root, 'not-a-cache');
mkdirSync(notACache);

interface CliCase {
  args: string[];
  /** 2: usage (commander's one line), 1: operational ({"error", "code"} with --json). */
  exit: 1 | 2;
  names: string;
  code?: string;
}

const cli: CliCase[] = [
  { args: ['stats', '--dir', ''], exit: 2, names: '--dir' },
  { args: ['ls', '--sort', 'name', '--dir', cacheDir], exit: 2, names: '--sort' },
  { args: ['ls', '--limit', '0', '--dir', cacheDir], exit: 2, names: '--limit' },
  { args: ['ls', '--namespace', 'Bad', '--dir', cacheDir], exit: 2, names: '--namespace' },
  { args: ['prune', '--max-bytes', 'lots', '--dir', cacheDir], exit: 2, names: '--max-bytes' },
  { args: ['prune', '--dir', cacheDir], exit: 2, names: '--max-bytes' },
  { args: ['clear', '--namespace', '../x', '--yes', '--dir', cacheDir], exit: 2, names: '--namespace' },
  { args: ['clear', '--dir', cacheDir], exit: 2, names: '--yes' },
  { args: ['stats', '--dir', notACache], exit: 1, names: `no cache at ${notACache}` },
  { args: ['verify', '--dir', file], exit: 1, names: `no cache at ${file}` },
  { args: ['hash', missing], exit: 1, names: missing },
  { args: ['frobnicate'], exit: 2, names: 'frobnicate' },
];

function runCli(args: string[]) {
  const env = { ...process.env };
  delete env.MODELCACHE_DIR;
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env });
}

describe('the bad-input catalogue (CLI)', () => {
  it.each(cli.map((k) => [k.args.join(' '), k] as const))('modelcache %s', (_name, k) => {
    const r = runCli(k.args);
    expect(r.status).toBe(k.exit);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(k.names);
    if (k.exit === 1) {
      const j = runCli([...k.args, '--json']);
      expect(j.status).toBe(1);
      expect(JSON.parse(j.stdout).error).toContain(k.names);
    }
  });

  it('a refused command creates nothing in a directory that is not a cache', () => {
    runCli(['ls', '--dir', notACache]);
    runCli(['prune', '--max-bytes', '1', '--dir', notACache]);
    expect(spawnSync('ls', ['-A', notACache], { encoding: 'utf8' }).stdout).toBe('');
  });
});
