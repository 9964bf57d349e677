import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cache, hashFile, treeHash } from '../../src/index.js';
import { AzureBlobTier, parseContainerUrl } from '../../src/store/azure/tier.js';
import { freePort } from '../setup/azurite.mjs';
import { captureWarnings, useAzurite } from '../setup/use-azurite.js';
import { randomBytes, tempDir } from '../helpers.js';

const azurite = useAzurite();
const K = (s: string) => s.padEnd(32, '0');
let n = 0;
/** A fresh container per test: tests never see each other's blobs. */
const container = () => `t${process.pid}-${n++}`;
const fast = { maxTries: 2, tryTimeoutMs: 5000, retryDelayMs: 50 };

function tierFor(name: string, extra: Record<string, unknown> = {}) {
  return new AzureBlobTier({ connectionString: azurite().connectionString, containerName: name, ...fast, ...extra });
}

function raw(name: string) {
  return BlobServiceClient.fromConnectionString(azurite().connectionString).getContainerClient(name);
}

describe('AzureBlobTier', () => {
  const dir = tempDir();
  let warnings: ReturnType<typeof captureWarnings>;
  beforeAll(() => {
    warnings = captureWarnings();
  });
  afterEach(() => {
    warnings.restore();
    warnings = captureWarnings();
  });

  it('round trips values and records their content hash in blob metadata', async () => {
    const c = container();
    const tier = tierFor(c);
    const value = randomBytes(300_000, 3);
    expect(await tier.put(K('a'), value)).toBe(true);
    expect((await tier.get(K('a')))!.equals(value)).toBe(true);
    const props = await raw(c).getBlobClient(tier.valueName(K('a'))).getProperties();
    expect(props.metadata!.mchash).toBe(treeHash(value));
    expect(await tier.has(K('a'))).toBe(true);
    expect(await tier.get(K('b'))).toBeUndefined();
    expect(tier.stats()).toMatchObject({ hits: 1, misses: 1, puts: 1, uploads: 1 });
  });

  it('never overwrites an entry: a second writer loses the race and still succeeds', async () => {
    const tier = tierFor(container());
    expect(await tier.put(K('r'), Buffer.from('first'))).toBe(true);
    expect(await tier.put(K('r'), Buffer.from('second'))).toBe(true);
    expect((await tier.get(K('r')))!.toString()).toBe('first');
    expect(tier.stats().lostRaces).toBe(1);
  });

  it('keeps the first of two racing block uploads whole (no mixed blocks)', async () => {
    const tier = tierFor(container(), { blockSize: 256 * 1024, maxSingleShotSize: 256 * 1024, concurrency: 4 });
    const a = randomBytes(3_000_000, 11);
    const b = randomBytes(3_000_000, 12);
    const outcomes = await Promise.all([tier.writeBlob('big', a), tier.writeBlob('big', b)]);
    expect(outcomes.sort()).toEqual(['created', 'exists']);
    const got = (await tier.readBlob('big'))!.data;
    expect(got.equals(a) || got.equals(b)).toBe(true);
  });

  it('reports a damaged blob as a miss, warns, and drops it so a good copy can be published', async () => {
    const c = container();
    const tier = tierFor(c);
    const value = randomBytes(50_000, 5);
    await tier.put(K('d'), value);
    // Damage the bytes in storage, keeping the recorded hash.
    const blob = raw(c).getBlockBlobClient(tier.valueName(K('d')));
    const props = await blob.getProperties();
    const bad = Buffer.from(value);
    bad[1234] ^= 0xff;
    await blob.uploadData(bad, { metadata: props.metadata });
    expect(await tier.get(K('d'))).toBeUndefined();
    expect(tier.stats().corrupt).toBe(1);
    expect(warnings.codes).toContain('ERR_CORRUPT');
    expect(await tier.has(K('d'))).toBe(false);
    expect(await tier.put(K('d'), value)).toBe(true);
    expect((await tier.get(K('d')))!.equals(value)).toBe(true);
  });

  it('replaces a damaged blob found when losing a race', async () => {
    const c = container();
    const tier = tierFor(c);
    await raw(c).createIfNotExists();
    await raw(c).getBlockBlobClient('x').uploadData(Buffer.from('garbage'), { metadata: { mchash: '0'.repeat(32) } });
    expect(await tier.writeBlob('x', Buffer.from('good'))).toBe('created');
    expect((await tier.readBlob('x'))!.data.toString()).toBe('good');
  });

  it('treats a blob without a recorded hash as unverifiable (a miss)', async () => {
    const c = container();
    await raw(c).createIfNotExists();
    await raw(c).getBlockBlobClient('foreign').uploadData(Buffer.from('not ours'));
    const tier = tierFor(c);
    expect(await tier.readBlob('foreign')).toBeUndefined();
    expect(tier.stats().corrupt).toBe(1);
  });

  it('reads only with update: false', async () => {
    const c = container();
    await tierFor(c).put(K('o'), Buffer.from('shared'));
    const ro = tierFor(c, { update: false });
    expect(ro.update).toBe(false);
    expect((await ro.get(K('o')))!.toString()).toBe('shared');
    expect(await ro.put(K('p'), Buffer.from('nope'))).toBe(false);
    expect(await ro.writeBlob('q', Buffer.from('nope'))).toBe('read-only');
    expect(await ro.delete(K('o'))).toBe(false);
    expect(await tierFor(c).has(K('p'))).toBe(false);
  });

  it('degrades to a miss with a warning and a counter when the service is unreachable', async () => {
    const port = await freePort();
    const cs = azurite().connectionString.replace(/BlobEndpoint=[^;]+/, `BlobEndpoint=http://127.0.0.1:${port}/devstoreaccount1`);
    const tier = new AzureBlobTier({ connectionString: cs, containerName: 'dead', maxTries: 2, retryDelayMs: 10, tryTimeoutMs: 2000, cooldownMs: 60_000 });
    const t0 = Date.now();
    expect(await tier.get(K('x'))).toBeUndefined();
    expect(await tier.put(K('x'), Buffer.from('v'))).toBe(false);
    expect(await tier.has(K('x'))).toBe(false);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(tier.stats().errors).toBeGreaterThanOrEqual(3);
    expect(tier.available).toBe(false);
    expect(warnings.codes).toContain('ERR_TIER');
  });

  it('uploads a file in parallel blocks and downloads it verified, with progress', async () => {
    const tier = tierFor(container(), { blockSize: 256 * 1024, concurrency: 3 });
    const src = join(dir, 'model.bin');
    writeFileSync(src, randomBytes(2_500_000, 9));
    const up: number[] = [];
    expect(await tier.uploadFile('models/m.bin', src, { onProgress: (l) => up.push(l) })).toBe('created');
    expect(up.length).toBeGreaterThan(1);
    expect(up[up.length - 1]).toBe(2_500_000);
    const dest = join(dir, 'back.bin');
    const down: number[] = [];
    expect(await tier.downloadFile('models/m.bin', dest, { expectedHash: await hashFile(src), onProgress: (l) => down.push(l) })).toBe(true);
    expect(readFileSync(dest).equals(readFileSync(src))).toBe(true);
    expect(down[down.length - 1]).toBe(2_500_000);
    expect(tier.stats()).toMatchObject({ bytesUploaded: 2_500_000, bytesDownloaded: 2_500_000 });
  });

  it('refuses a download whose hash differs from the expected one, leaving no file', async () => {
    const tier = tierFor(container());
    const src = join(dir, 'small.bin');
    writeFileSync(src, randomBytes(10_000, 2));
    await tier.uploadFile('s.bin', src);
    const dest = join(dir, 'never.bin');
    expect(await tier.downloadFile('s.bin', dest, { expectedHash: 'f'.repeat(32) })).toBe(false);
    expect(existsSync(dest)).toBe(false);
    expect(tier.stats().corrupt).toBe(1);
  });

  it('detects bytes damaged in storage when downloading to a file', async () => {
    const c = container();
    const tier = tierFor(c, { blockSize: 64 * 1024 });
    const src = join(dir, 'dmg.bin');
    writeFileSync(src, randomBytes(400_000, 4));
    await tier.uploadFile('dmg.bin', src);
    const blob = raw(c).getBlockBlobClient('dmg.bin');
    const props = await blob.getProperties();
    const bad = readFileSync(src);
    bad[300_000] ^= 1;
    await blob.uploadData(bad, { metadata: props.metadata });
    const dest = join(dir, 'dmg-back.bin');
    expect(await tier.downloadFile('dmg.bin', dest)).toBe(false);
    expect(existsSync(dest)).toBe(false);
  });

  it('lists blobs by prefix, with sizes and recorded hashes', async () => {
    const tier = tierFor(container(), { prefix: 'team-a' });
    await tier.writeBlob('x/1', Buffer.from('one'));
    await tier.writeBlob('x/2', Buffer.from('two!'));
    await tier.writeBlob('y/1', Buffer.from('three'));
    const listed = [];
    for await (const b of tier.list('x/')) listed.push(b);
    expect(listed.map((b) => [b.name, b.size, b.hash])).toEqual([
      ['x/1', 3, treeHash(Buffer.from('one'))],
      ['x/2', 4, treeHash(Buffer.from('two!'))],
    ]);
    expect(tier.prefix).toBe('team-a/');
  });

  it('backs a Cache: uploads in the background, flush() waits, another machine reads through', async () => {
    const c = container();
    const value = randomBytes(200_000, 8);
    const a = new Cache({ dir: join(dir, 'machine-a'), shared: tierFor(c) });
    await a.put(K('c'), value);
    await a.flush();
    expect((a.stats().tiers.azure as { uploads: number }).uploads).toBe(1);
    await a.close();
    const b = new Cache({ dir: join(dir, 'machine-b'), shared: tierFor(c) });
    expect((await b.get(K('c')))!.equals(value)).toBe(true);
    await b.flush();
    expect(b.stats().tiers.disk.entries).toBe(1); // the shared hit is kept locally
    await b.close();
  });

  it('deletes one namespace by prefix and leaves other namespaces and foreign blobs alone', async () => {
    const tier = tierFor(container());
    await tier.put(K('v'), Buffer.from('mine'), { namespace: 'tensor.aa' });
    await tier.put(K('w'), Buffer.from('theirs'), { namespace: 'tensor.ab' });
    await tier.put(K('x'), Buffer.from('default'));
    await tier.writeBlob('pipeline/keep', Buffer.from('k'));
    expect(await tier.countEntries('tensor.aa')).toBe(1);
    expect(await tier.deleteNamespace('tensor.aa')).toBe(1);
    expect(await tier.has(K('v'), 'tensor.aa')).toBe(false);
    expect((await tier.get(K('w'), 'tensor.ab'))!.toString()).toBe('theirs');
    expect((await tier.get(K('x')))!.toString()).toBe('default');
    expect((await tier.readBlob('pipeline/keep'))?.data.toString()).toBe('k');
    expect((await tier.namespaces()).sort()).toEqual(['default', 'tensor.ab']);
  });

  it('has no clear(): only the explicitly named deleteAllEntries empties it', async () => {
    const tier = tierFor(container());
    expect((tier as unknown as { clear?: unknown }).clear).toBeUndefined();
    await tier.put(K('a'), Buffer.from('a'), { namespace: 'one' });
    await tier.put(K('b'), Buffer.from('b'), { namespace: 'two' });
    await tier.writeBlob('pipeline/keep', Buffer.from('k'));
    expect(await tier.deleteAllEntries()).toBe(2);
    expect(await tier.namespaces()).toEqual([]);
    expect((await tier.readBlob('pipeline/keep'))?.data.toString()).toBe('k');
  });
});

describe('AzureBlobTier locations', () => {
  it('parses host-style and path-style container URLs', () => {
    expect(parseContainerUrl('https://acct.blob.core.windows.net/models')).toMatchObject({ account: 'acct', container: 'models', prefix: '', endpoint: 'https://acct.blob.core.windows.net' });
    expect(parseContainerUrl('https://acct.blob.core.windows.net/models/team/a')).toMatchObject({ container: 'models', prefix: 'team/a/' });
    expect(parseContainerUrl('http://127.0.0.1:10000/devstoreaccount1/models')).toMatchObject({ account: 'devstoreaccount1', container: 'models', endpoint: 'http://127.0.0.1:10000/devstoreaccount1' });
  });

  it('reaches the account of AZURE_STORAGE_CONNECTION_STRING through the URL and account forms', async () => {
    const saved = process.env.AZURE_STORAGE_CONNECTION_STRING;
    process.env.AZURE_STORAGE_CONNECTION_STRING = azurite().connectionString;
    try {
      const viaUrl = new AzureBlobTier({ containerUrl: 'https://devstoreaccount1.blob.core.windows.net/forms/sub', ...fast });
      expect(viaUrl.prefix).toBe('sub/');
      expect(await viaUrl.put(K('u'), Buffer.from('url form'))).toBe(true);
      const viaAccount = new AzureBlobTier({ accountName: 'devstoreaccount1', containerName: 'forms', prefix: 'sub', ...fast });
      expect((await viaAccount.get(K('u')))!.toString()).toBe('url form');
      const viaEnvOnly = new AzureBlobTier({ containerName: 'forms', prefix: 'sub/', ...fast });
      expect(await viaEnvOnly.has(K('u'))).toBe(true);
      expect(await raw('forms').getBlobClient(`sub/${viaUrl.valueName(K('u'))}`).exists()).toBe(true);
    } finally {
      if (saved === undefined) delete process.env.AZURE_STORAGE_CONNECTION_STRING;
      else process.env.AZURE_STORAGE_CONNECTION_STRING = saved;
    }
  });

  it('loads without the Azure SDK installed, and says what to install when a tier is used', () => {
    const r = spawnSync(process.execPath, [resolve(import.meta.dirname, '../fixtures/no-azure-sdk.mjs')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ imported: true, miss: true });
    expect(out.warnings.join('\n')).toContain('npm install @azure/storage-blob');
  });

  it('rejects misspelled and malformed options by name', () => {
    expect(() => new AzureBlobTier({ containerUrl: 'https://acct.blob.core.windows.net/c', maxTry: 2 } as never)).toThrow(/Unknown option "maxTry"/);
    expect(() => new AzureBlobTier({ connectionString: 'x=y', containerName: 'Bad_Name' })).toThrow(/options.containerName/);
    expect(() => new AzureBlobTier({ containerUrl: 'ftp://x/y' })).toThrow(/options.containerUrl/);
    expect(() => new AzureBlobTier({ containerUrl: 'https://acct.blob.core.windows.net/c', prefix: '/abs' })).toThrow(/options.prefix/);
    expect(() => new AzureBlobTier({ containerUrl: 'https://acct.blob.core.windows.net/c', prefix: '../other/' })).toThrow(/options.prefix/);
    expect(() => new AzureBlobTier({ containerUrl: 'https://acct.blob.core.windows.net/c', prefix: 'team/./a' })).toThrow(/options.prefix/);
    expect(() => new AzureBlobTier({ connectionString: 'x=y', containerName: 'ok1', blockSize: 1 })).toThrow(/options.blockSize/);
    expect(() => new AzureBlobTier({ containerUrl: 'https://acct.blob.core.windows.net/c', containerName: 'c' })).toThrow(/containerUrl alone/);
  });
});
