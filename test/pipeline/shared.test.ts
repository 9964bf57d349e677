import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cache } from '../../src/index.js';
import { AzureBlobTier, Pipeline } from '../../src/pipeline/index.js';
import { publishRaw } from './hostile.js';
import { freePort } from '../setup/azurite.mjs';
import { captureWarnings, useAzurite } from '../setup/use-azurite.js';
import { tempDir } from '../helpers.js';
import { appendPass } from './helpers.js';

const azurite = useAzurite();
const fast = { maxTries: 2, tryTimeoutMs: 5000, retryDelayMs: 50, progress: false };

async function blobNames(container: string): Promise<string[]> {
  const c = BlobServiceClient.fromConnectionString(azurite().connectionString).getContainerClient(container);
  const names: string[] = [];
  if (!(await c.exists())) return names;
  for await (const b of c.listBlobsFlat()) names.push(b.name);
  return names.sort();
}

describe('Pipeline with a shared store', () => {
  const root = tempDir();
  let n = 0;
  const fresh = () => join(root, `c${n++}`);
  let container = 0;
  const newContainer = () => `p${process.pid}-${container++}`;
  const src = join(root, 'input.txt');
  let savedEnv: string | undefined;

  beforeAll(() => {
    writeFileSync(src, 'm0');
    savedEnv = process.env.AZURE_STORAGE_CONNECTION_STRING;
    // What the URL and account forms use to reach Azurite's devstoreaccount1.
    process.env.AZURE_STORAGE_CONNECTION_STRING = azurite().connectionString;
  });
  afterAll(() => {
    if (savedEnv === undefined) delete process.env.AZURE_STORAGE_CONNECTION_STRING;
    else process.env.AZURE_STORAGE_CONNECTION_STRING = savedEnv;
  });

  const urlOf = (c: string) => `https://devstoreaccount1.blob.core.windows.net/${c}`;
  const build = (cache: object, texts = ['+a', '+b', '+c']) => {
    const p = new Pipeline({ cache: { sharedOptions: fast, ...cache } });
    for (const t of texts) p.add(appendPass(t));
    return p;
  };

  it('publishes with the URL form of cache.dir: files in their own folder, manifest last, run records kept local', async () => {
    const c = newContainer();
    const events: string[] = [];
    const p = new Pipeline({ cache: { dir: [fresh(), urlOf(c)], sharedOptions: fast }, onEvent: (e) => events.push(`${e.type}`) });
    p.add(appendPass('+a'));
    const r = await p.run(src);
    expect(r.stats).toMatchObject({ computed: 1, published: 1, uploadedBytes: 4 });
    const names = await blobNames(c);
    expect(names).toEqual([
      `entries/pipeline.output/f/${r.id}/manifest.json`,
      expect.stringMatching(new RegExp(`^entries/pipeline\\.output/f/${r.id}/u[0-9a-z]+-[0-9a-f]{8}/model\\.txt$`)),
    ]);
    expect(events.indexOf('upload-start')).toBeLessThan(events.indexOf('published'));
    await p.close();
  });

  it('on a second machine computes nothing and downloads only the final model, when asked for it', async () => {
    const c = newContainer();
    const a = build({ dir: [fresh(), urlOf(c)] });
    const ra = await a.run(src);
    expect(ra.stats.published).toBe(3);
    await a.close();

    const b = build({ dir: [fresh(), urlOf(c)] });
    const rb = await b.run(src);
    expect(rb.passes.map((x) => x.status)).toEqual(['not-needed', 'not-needed', 'shared']);
    expect(rb.stats).toMatchObject({ computed: 0, downloadedBytes: 0, sharedHits: 1 });
    expect(rb.attributes).toEqual({});
    expect(readFileSync(await rb.path(), 'utf8')).toBe('m0+a+b+c');
    expect(rb.stats).toMatchObject({ downloadedBytes: 'm0+a+b+c'.length, downloadedFiles: 1, computed: 0 });
    // Now local: the next run reads nothing from the shared store.
    const again = await b.run(src);
    expect(again.passes[2].status).toBe('local');
    expect(again.stats.manifestBytes).toBe(0);
    await b.close();
  });

  it('records a shared hit locally: status shared, with who computed it, when and how long', async () => {
    const c = newContainer();
    const a = build({ dir: [fresh(), urlOf(c)] });
    await a.run(src);
    const computed = (await a.runs()).find((r) => r.pass.name === 'Append_3')!;
    await a.close();
    const b = build({ dir: [fresh(), urlOf(c)] });
    const before = Date.now();
    await b.run(src);
    const records = await b.runs();
    expect(records).toHaveLength(1);
    const { runId: _a, served, ...rest } = records[0];
    const { runId: _b, ...original } = computed;
    expect(rest).toEqual({ ...original, status: 'shared' });
    expect(served).toMatchObject({ host: computed.host, runId: records[0].runId });
    expect(served!.at).toBeGreaterThanOrEqual(before);
    await b.close();
  });

  it('downloads only the input a pass that must run needs', async () => {
    const c = newContainer();
    const a = build({ dir: [fresh(), urlOf(c)] }, ['+a', '+b', '+c']);
    await a.run(src);
    await a.close();
    const b = build({ dir: [fresh(), urlOf(c)] }, ['+a', '+B', '+c']);
    const rb = await b.run(src);
    expect(rb.passes.map((x) => x.status)).toEqual(['shared', 'computed', 'computed']);
    expect(rb.stats).toMatchObject({ computed: 2, downloadedBytes: 'm0+a'.length, published: 2 });
    await b.close();
  });

  it('publishes with the { accountName, containerName } form; updateSharedCache: false only reads', async () => {
    const c = newContainer();
    const a = build({ dir: fresh(), accountName: 'devstoreaccount1', containerName: c }, ['+a']);
    const ra = await a.run(src);
    expect(ra.stats.published).toBe(1);
    await a.close();
    expect(await blobNames(c)).toHaveLength(2);

    const ro = build({ dir: fresh(), accountName: 'devstoreaccount1', containerName: c, updateSharedCache: false }, ['+a', '+z']);
    const r = await ro.run(src);
    expect(r.passes.map((x) => x.status)).toEqual(['shared', 'computed']);
    expect(r.stats.published).toBe(0);
    expect(await blobNames(c)).toHaveLength(2);
    await ro.close();
  });

  it('keeps a pass with an unportable config, and the passes after it, out of the shared store', async () => {
    const c = newContainer();
    const w = captureWarnings();
    try {
      class Hooks {
        constructor(readonly level = 1) {}
      }
      const p = new Pipeline({ cache: { dir: [fresh(), urlOf(c)], sharedOptions: fast } });
      p.add(appendPass('+a'));
      p.add({ ...appendPass('+f'), type: 'WithHooks', config: { text: '+f', hooks: new Hooks() } as never });
      p.add(appendPass('+c'));
      const r = await p.run(src);
      expect(r.passes.map((x) => x.shareable)).toEqual([true, false, false]);
      expect(r.stats.published).toBe(1);
      expect(w.codes).toContain('ERR_CONFIG_NOT_PORTABLE');
      expect(w.messages.join('\n')).toContain('config.hooks (an instance of Hooks)');
      expect((await p.run(src)).computed).toBe(0); // still cached locally
      await p.close();
    } finally {
      w.restore();
    }
  });

  it('ignores files without a manifest (a killed upload), and collecting uploads removes them after the grace period', async () => {
    const c = newContainer();
    const tier = new AzureBlobTier({ connectionString: azurite().connectionString, containerName: c, ...fast });
    const probe = build({ dir: fresh(), sharedTier: tier }, ['+a']);
    const id = (await probe.run(src)).id;
    await probe.close();
    // Withdraw the manifest, leaving the files, as an upload killed before its commit would.
    await tier.deleteBlob(tier.manifestName(id, 'pipeline.output'));
    const reader = build({ dir: fresh(), sharedTier: tier, updateSharedCache: false }, ['+a']);
    expect((await reader.run(src)).passes[0].status).toBe('computed');
    await reader.close();
    const listed = [];
    for await (const e of tier.listEntries('pipeline.output')) listed.push(e);
    expect(listed).toEqual([]);
    expect(await tier.collectUploads({ graceMs: 3600_000 })).toBe(0);
    expect(await tier.collectUploads({ graceMs: 0, now: Date.now() + 1000 })).toBe(1);
    expect(await blobNames(c)).toEqual([]);
  });

  it('withdraws a damaged shared output, recomputes it and publishes a good one', async () => {
    const c = newContainer();
    const a = build({ dir: [fresh(), urlOf(c)] }, ['+a', '+b']);
    const ra = await a.run(src);
    await a.close();
    const names = await blobNames(c);
    const file = names.find((x) => x.startsWith(`entries/pipeline.output/f/${ra.id}/u`))!;
    const blob = BlobServiceClient.fromConnectionString(azurite().connectionString).getContainerClient(c).getBlockBlobClient(file);
    const props = await blob.getProperties();
    await blob.uploadData(Buffer.from('m0+a+X'), { metadata: props.metadata });
    const w = captureWarnings();
    try {
      const b = build({ dir: [fresh(), urlOf(c)] }, ['+a', '+b']);
      const rb = await b.run(src);
      expect(readFileSync(await rb.path(), 'utf8')).toBe('m0+a+b');
      expect(rb.passes.map((x) => x.status)).toEqual(['shared', 'computed']);
      expect(rb.stats).toMatchObject({ damaged: 1, computed: 1 });
      expect(w.codes).toContain('ERR_CORRUPT');
      await b.close();
      const cRun = build({ dir: [fresh(), urlOf(c)] }, ['+a', '+b']);
      const rc = await cRun.run(src);
      expect(readFileSync(await rc.path(), 'utf8')).toBe('m0+a+b');
      expect(rc.stats.damaged).toBe(0);
      await cRun.close();
    } finally {
      w.restore();
    }
  });

  it('withdraws a shared output whose files cannot be one folder everywhere (A.txt and a.txt), computes it here and publishes a good one', async () => {
    const c = newContainer();
    const tier = new AzureBlobTier({ connectionString: azurite().connectionString, containerName: c, ...fast });
    const probe = build({ dir: fresh() }, ['+a']); // local only: the id the output has
    const id = (await probe.run(src)).id;
    await probe.close();
    await publishRaw(tier, root, id, [{ path: 'A.txt', content: 'x' }, { path: 'a.txt', content: 'y' }]);
    const w = captureWarnings();
    try {
      const p = build({ dir: fresh(), sharedTier: tier }, ['+a']);
      const r = await p.run(src);
      expect(r.passes[0].status).toBe('computed');
      expect(readFileSync(await r.path(), 'utf8')).toBe('m0+a');
      expect(r.stats.published).toBe(1);
      expect(w.messages.join('\n')).toMatch(/"A\.txt" and "a\.txt", which differ only in case.*; withdrawn/);
      await p.close();
    } finally {
      w.restore();
    }
    const q = build({ dir: fresh(), sharedTier: tier }, ['+a']);
    const rq = await q.run(src);
    expect(rq.passes[0].status).toBe('shared');
    expect(readFileSync(await rq.path(), 'utf8')).toBe('m0+a');
    await q.close();
  });

  it('withdraws a shared output whose files cannot be written here (EEXIST), computes it and publishes its own', async () => {
    const c = newContainer();
    const a = build({ dir: [fresh(), urlOf(c)] }, ['+a']);
    const id = (await a.run(src)).id;
    await a.close();
    const tier = new AzureBlobTier({ connectionString: azurite().connectionString, containerName: c, ...fast });
    let tries = 0;
    const failing = new Proxy(tier, {
      get(t, k) {
        if (k === 'downloadFiles') return async () => ((tries++, Promise.reject(Object.assign(new Error('EEXIST: file already exists, mkdir'), { code: 'EEXIST' }))));
        const v = Reflect.get(t, k, t) as unknown;
        return typeof v === 'function' ? v.bind(t) : v;
      },
    });
    const w = captureWarnings();
    try {
      const b = build({ dir: fresh(), shared: failing }, ['+a']);
      const rb = await b.run(src);
      expect(rb.passes[0].status).toBe('shared'); // found; its files are not needed yet
      expect(readFileSync(await rb.path(), 'utf8')).toBe('m0+a');
      expect(rb.passes[0].status).toBe('computed');
      expect(tries).toBe(1);
      expect(w.messages.join('\n')).toMatch(new RegExp(`shared pipeline output ${id} cannot be materialized \\(EEXIST.*withdrawn`));
      await b.close();
      expect(rb.stats).toMatchObject({ damaged: 1, published: 1 });
    } finally {
      w.restore();
    }
    expect((await tier.lookupFiles(id, 'pipeline.output'))?.meta).toMatchObject({ run: { host: expect.any(String) } });
  });

  it('a read-only pipeline leaves an unusable shared output in place and computes it here', async () => {
    const c = newContainer();
    const tier = new AzureBlobTier({ connectionString: azurite().connectionString, containerName: c, ...fast });
    const probe = build({ dir: fresh() }, ['+a']);
    const id = (await probe.run(src)).id;
    await probe.close();
    await publishRaw(tier, root, id, [{ path: 'A.txt', content: 'x' }, { path: 'a.txt', content: 'y' }]);
    const w = captureWarnings();
    try {
      const p = build({ dir: fresh(), sharedTier: tier, updateSharedCache: false }, ['+a']);
      expect((await p.run(src)).passes[0].status).toBe('computed');
      expect(w.messages.join('\n')).toMatch(/"A\.txt" and "a\.txt", which differ only in case.*; not used/);
      await p.close();
    } finally {
      w.restore();
    }
    // Still there (looked at by name: a lookup through a tier that may write would withdraw it).
    expect((await blobNames(c)).filter((n) => n.endsWith(`/${id}/manifest.json`))).toHaveLength(1);
  });

  it('a producer refuses an output whose files cannot be one folder everywhere: the pass fails, nothing is stored or shared', async () => {
    const c = newContainer();
    const p = new Pipeline({ cache: { dir: [fresh(), urlOf(c)], sharedOptions: fast } });
    p.add({ type: 'Cased', run: (_i, _c, ctx) => {
      writeFileSync(ctx.outputPath('A.txt'), 'x');
      writeFileSync(ctx.outputPath('a.txt'), 'y');
    } });
    await expect(p.run(src)).rejects.toThrow(/pass Cased failed: pass Cased wrote files that cannot be stored and shared: "A\.txt" and "a\.txt" differ only in case/);
    expect(await blobNames(c)).toEqual([]);
    expect((await p.runs()).map((r) => r.status)).toEqual(['failed']);
    await p.close();
  });

  it('stores and shares through a Cache with a shared tier', async () => {
    const c = newContainer();
    const tier = new AzureBlobTier({ connectionString: azurite().connectionString, containerName: c, ...fast });
    const cache = new Cache({ dir: fresh(), shared: tier });
    const p = new Pipeline({ cache }).add(appendPass('+a'));
    const r = await p.run(src);
    expect(r.stats.published).toBe(1);
    await p.close();
    await cache.close();
    const other = build({ dir: fresh(), shared: new AzureBlobTier({ connectionString: azurite().connectionString, containerName: c, ...fast }) }, ['+a']);
    expect((await other.run(src)).passes[0].status).toBe('shared');
    await other.close();
  });

  it('shares evaluations: another machine gets the metrics without downloading the model', async () => {
    const c = newContainer();
    let evals = 0;
    const evaluator = { type: 'Len', config: { unit: 'bytes' }, evaluate: (m: { path: string }) => (evals++, { size: readFileSync(m.path).length }) };
    const a = new Pipeline({ cache: { dir: [fresh(), urlOf(c)], sharedOptions: fast }, evaluator }).add(appendPass('+a'));
    expect((await a.run(src)).evaluation).toMatchObject({ metrics: { size: 4 }, cached: false });
    await a.close();
    const b = new Pipeline({ cache: { dir: [fresh(), urlOf(c)], sharedOptions: fast }, evaluator }).add(appendPass('+a'));
    const rb = await b.run(src);
    expect(rb.evaluation).toMatchObject({ metrics: { size: 4 }, cached: 'shared' });
    expect(rb.stats.downloadedBytes).toBe(0);
    expect(evals).toBe(1);
    await b.close();
  });

  it('finishes from compute when the shared store cannot be reached', async () => {
    const port = await freePort();
    const w = captureWarnings();
    try {
      const dead = azurite().connectionString.replace(/BlobEndpoint=[^;]+/, `BlobEndpoint=http://127.0.0.1:${port}/devstoreaccount1`);
      const p = build({ dir: fresh(), connectionString: dead, containerName: 'nowhere' });
      const r = await p.run(src);
      expect(r.stats.computed).toBe(3);
      expect(readFileSync(await r.path(), 'utf8')).toBe('m0+a+b+c');
      expect(w.codes).toContain('ERR_TIER');
      await p.close();
    } finally {
      w.restore();
    }
  });
});
