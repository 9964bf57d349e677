// File entries and namespaces through a shared AzureBlobTier (Azurite): an entry uploaded files
// first and manifest last is found by a second machine from its manifest alone, downloaded later
// with progress and verified; deleting a namespace leaves the others in every tier.
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterEach, describe, expect, it } from 'vitest';
import { Cache } from '../../src/index.js';
import { AzureBlobTier } from '../../src/store/azure/tier.js';
import { captureWarnings, useAzurite } from '../setup/use-azurite.js';
import { randomBytes, tempDir } from '../helpers.js';

const azurite = useAzurite();
const K = (s: string) => s.padEnd(32, '0');
const root = tempDir('modelcache-azure-files-');
let n = 0;
const fast = { maxTries: 2, tryTimeoutMs: 5000, retryDelayMs: 50 };
const shared = (container: string) => new AzureBlobTier({ connectionString: azurite().connectionString, containerName: container, ...fast });
const machine = (container: string, extra: Record<string, unknown> = {}) => new Cache({ dir: join(root, `m${n++}`), shared: shared(container), ...extra });
const raw = (container: string) => BlobServiceClient.fromConnectionString(azurite().connectionString).getContainerClient(container);

let warnings: ReturnType<typeof captureWarnings> | undefined;
afterEach(() => warnings?.restore());

describe('file entries through a shared tier', () => {
  it('round trip: uploaded files first and manifest last, found by another machine from the manifest alone, fetched later with progress', async () => {
    const container = `f${process.pid}-${n++}`;
    const a = machine(container);
    const files = [
      { name: 'model.onnx', data: randomBytes(300_000, 1) },
      { name: 'weights/part-0.bin', data: randomBytes(200_000, 2) },
    ];
    expect(await a.putFiles(K('out'), files, { namespace: 'pipeline.output', kind: 'pass-output', meta: { pass: 'quantize' } })).toBe(true);
    await a.flush();
    await a.close();
    const names = [];
    for await (const b of raw(container).listBlobsFlat()) names.push(b.name);
    expect(names.filter((x) => x.endsWith('manifest.json'))).toEqual([`entries/pipeline.output/f/${K('out')}/manifest.json`]);
    expect(names).toHaveLength(3);

    const b = machine(container);
    const remote = (await b.getFiles(K('out'), { namespace: 'pipeline.output', download: false }))!;
    expect(remote).toMatchObject({ location: 'shared', kind: 'pass-output', meta: { pass: 'quantize' }, size: 500_000 });
    expect(remote.files.map((f) => [f.name, f.path])).toEqual([['model.onnx', undefined], ['weights/part-0.bin', undefined]]);
    expect((b.stats().tiers.azure as { downloads: number }).downloads).toBe(1); // the manifest only
    const progress: number[] = [];
    const local = (await remote.fetch({ onProgress: (loaded) => progress.push(loaded) }))!;
    expect(local.location).toBe('local');
    expect(progress.at(-1)).toBe(500_000);
    expect((await local.read('weights/part-0.bin')).equals(randomBytes(200_000, 2))).toBe(true);
    // Kept locally: the next read needs no transfer.
    const downloads = (b.stats().tiers.azure as { downloads: number }).downloads;
    expect((await b.getFiles(K('out'), { namespace: 'pipeline.output' }))!.location).toBe('local');
    expect((b.stats().tiers.azure as { downloads: number }).downloads).toBe(downloads);
    await b.close();
  });

  it('a prefix without its manifest is invisible', async () => {
    const container = `f${process.pid}-${n++}`;
    const tier = shared(container);
    await tier.writeBlob(`entries/session/f/${K('half')}/u1-x/model.ort`, Buffer.from('orphan upload'));
    expect(await tier.lookupFiles(K('half'), 'session')).toBeUndefined();
    const listed = [];
    for await (const e of tier.listEntries('session')) listed.push(e);
    expect(listed).toEqual([]);
  });

  it('collects upload folders no manifest names, and keeps the committed one', async () => {
    const container = `f${process.pid}-${n++}`;
    const a = machine(container);
    await a.putFiles(K('kept'), [{ name: 'm.bin', data: randomBytes(1000, 5) }], { namespace: 'session' });
    await a.flush();
    await a.close();
    const tier = shared(container);
    await tier.writeBlob(`entries/session/f/${K('kept')}/u0-lost/m.bin`, Buffer.from('a lost race'));
    await tier.writeBlob(`entries/session/f/${K('half')}/u1-x/model.ort`, Buffer.from('killed upload'));
    expect(await tier.collectUploads({ graceMs: 60_000 })).toBe(0); // young: may still be uploading
    expect(await tier.collectUploads({ graceMs: 0, now: Date.now() + 1000 })).toBe(2);
    const left = [];
    for await (const b of raw(container).listBlobsFlat()) left.push(b.name);
    expect(left).toHaveLength(2); // the committed entry: its file and its manifest
    const b = machine(container);
    expect((await (await b.getFiles(K('kept'), { namespace: 'session' }))!.read('m.bin')).equals(randomBytes(1000, 5))).toBe(true);
    await b.close();
  });

  it('a file that fails verification is a miss, and the entry is withdrawn', async () => {
    warnings = captureWarnings();
    const container = `f${process.pid}-${n++}`;
    const a = machine(container);
    await a.putFiles(K('bad'), [{ name: 'm.bin', data: randomBytes(50_000, 3) }]);
    await a.flush();
    await a.close();
    const c = raw(container);
    for await (const blob of c.listBlobsFlat({ includeMetadata: true })) {
      if (!blob.name.endsWith('/m.bin')) continue;
      await c.getBlockBlobClient(blob.name).uploadData(randomBytes(50_000, 4), { metadata: blob.metadata }); // same recorded hash, other bytes
    }
    const b = machine(container);
    expect(await b.getFiles(K('bad'))).toBeUndefined();
    expect(warnings.codes).toContain('ERR_CORRUPT');
    expect(await (b.tiers[2] as AzureBlobTier).lookupFiles(K('bad'))).toBeUndefined();
    await b.close();
  });
});

describe('namespaces through a shared tier', () => {
  it("deleting one namespace leaves the others in memory, on disk and in the shared tier", async () => {
    const container = `f${process.pid}-${n++}`;
    const c = machine(container);
    for (const ns of ['tensor.one', 'tensor.two']) {
      await c.put(K('v'), Buffer.from(ns), { namespace: ns });
      await c.putFiles(K('f'), [{ name: 'x.bin', data: Buffer.from(ns) }], { namespace: ns });
    }
    await c.flush();
    expect(await c.count('tensor.one')).toEqual({ memory: 1, disk: 2, azure: 2 });
    await c.deleteNamespace('tensor.one');
    expect(await c.count('tensor.one')).toEqual({ memory: 0, disk: 0, azure: 0 });
    expect(await c.count('tensor.two')).toEqual({ memory: 1, disk: 2, azure: 2 });
    await c.close();
    const other = machine(container);
    expect((await other.get(K('v'), { namespace: 'tensor.two' }))!.toString()).toBe('tensor.two');
    expect(await other.get(K('v'), { namespace: 'tensor.one' })).toBeUndefined();
    expect((await (await other.getFiles(K('f'), { namespace: 'tensor.two' }))!.read('x.bin')).toString()).toBe('tensor.two');
    await other.close();
  });
});
