// The real thing: a 3-pass pipeline on the PaddleOCR PP-OCRv4 rec model (10.8 MB) with a shared
// store in Azurite: onnxruntime graph optimization, float16 weights written with onnx-proto, and a
// metadata pass. Several "machines" are separate local directories (or processes).
import { spawn, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { beforeAll, describe, expect, it } from 'vitest';
import { Pipeline, type PipelineCacheOptions } from '../../src/pipeline/index.js';
import { models } from '../models.js';
import { tempDir } from '../helpers.js';
import { captureWarnings, startAzurite, useAzurite, type Azurite } from '../setup/use-azurite.js';
// @ts-expect-error: plain JS fixture shared with the child processes
import { ocrPasses, readMetadata, runRec } from '../fixtures/pipeline-passes.mjs';

const azurite = useAzurite();
const CLI = resolve(import.meta.dirname, '../../dist/cli/main.js');
const WORKER = resolve(import.meta.dirname, '../fixtures/pipeline-worker.mjs');
const fast = { maxTries: 2, tryTimeoutMs: 10_000, retryDelayMs: 50, cooldownMs: 60_000, progress: false as const };

interface WorkerResult {
  id: string;
  statuses: string[];
  stats: Record<string, number>;
  path: string;
}

describe('3-pass PaddleOCR rec pipeline with a shared store', () => {
  const root = tempDir('modelcache-ocr-');
  let n = 0;
  const machine = () => join(root, `machine-${n++}`);
  let containers = 0;
  const newContainer = () => `ocr${process.pid}-${containers++}`;
  let reference: Float32Array;
  /** A container filled by one cold run, and the machine that ran it: for the tests that only read it. */
  const filled = { container: '', dir: '', finalSize: 0, finalId: '' };

  beforeAll(async () => {
    reference = await runRec(models.ocrRec);
    filled.container = newContainer();
    filled.dir = machine();
    const p = pipeline(filled.dir, filled.container);
    const r = await p.run({ path: models.ocrRec });
    filled.finalSize = statSync(await r.path()).size;
    filled.finalId = r.id; // ids depend on passes, configs and input only: the same in every container
    await p.close();
  });

  function pipeline(dir: string, container: string, { minElements = 16, az = azurite(), ...cache }: { minElements?: number; az?: Azurite } & PipelineCacheOptions = {}) {
    const p = new Pipeline({ cache: { dir, connectionString: az.connectionString, containerName: container, sharedOptions: fast, ...cache } });
    for (const pass of ocrPasses({ minElements })) p.add(pass);
    return p;
  }

  async function coldRun(container: string) {
    const p = pipeline(machine(), container);
    const r = await p.run({ path: models.ocrRec });
    const path = await r.path();
    await p.close();
    return { r, path };
  }

  async function blobNames(container: string): Promise<string[]> {
    const names: string[] = [];
    for await (const b of BlobServiceClient.fromConnectionString(azurite().connectionString).getContainerClient(container).listBlobsFlat()) names.push(b.name);
    return names.sort();
  }

  function expectCloseToReference(out: Float32Array): void {
    let maxDiff = 0;
    for (let i = 0; i < out.length; i++) maxDiff = Math.max(maxDiff, Math.abs(out[i] - reference[i]));
    expect(out.length).toBe(reference.length);
    expect(maxDiff).toBeLessThan(0.05);
  }

  function worker(opts: Record<string, unknown>): Promise<{ code: number | null; signal: string | null; result?: WorkerResult; stderr: string }> {
    return new Promise((done) => {
      const child = spawn(process.execPath, [WORKER, JSON.stringify({ model: models.ocrRec, connectionString: azurite().connectionString, ...opts })], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('exit', (code, signal) => {
        const line = stdout.trim().split('\n').pop();
        done({ code, signal, stderr, ...(code === 0 && line ? { result: JSON.parse(line) as WorkerResult } : {}) });
      });
    });
  }

  it('cold: computes all three passes, uploads all three outputs, and the model still runs', async () => {
    const c = newContainer();
    const { r, path } = await coldRun(c);
    expect(r.passes.map((p) => p.status)).toEqual(['computed', 'computed', 'computed']);
    expect(r.stats).toMatchObject({ computed: 3, published: 3 });
    expect((await blobNames(c)).filter((b) => b.endsWith('/manifest.json'))).toHaveLength(3);
    expect(r.attributes).toMatchObject({ optimized: 'extended', float16Initializers: expect.any(Number) });
    expect(statSync(path).size).toBeLessThan(statSync(models.ocrRec).size * 0.6); // float16 weights
    expect(readMetadata(path)).toMatchObject({ producer: 'modelcache-test', stage: 'final' });
    expectCloseToReference(await runRec(path));
  });

  it('warm local: computes nothing', async () => {
    const p = pipeline(filled.dir, filled.container);
    const r = await p.run({ path: models.ocrRec });
    expect(r.stats).toMatchObject({ computed: 0, localHits: 1, downloadedBytes: 0, manifestBytes: 0 });
    await p.close();
  });

  it('second machine (empty local dir): computes nothing and downloads only the final model', async () => {
    const p = pipeline(machine(), filled.container);
    const r = await p.run({ path: models.ocrRec });
    expect(r.passes.map((x) => x.status)).toEqual(['not-needed', 'not-needed', 'shared']);
    expect(r.stats.downloadedBytes).toBe(0);
    const path = await r.path();
    expect(r.stats).toMatchObject({ computed: 0, downloadedBytes: filled.finalSize, downloadedFiles: 1 });
    expect(r.stats.manifestBytes).toBeLessThan(10_000);
    expectCloseToReference(await runRec(path));
    await p.close();
  });

  it('changed config of pass 2: passes 2 and 3 are recomputed, pass 1 is reused', async () => {
    const p = pipeline(machine(), filled.container, { minElements: 4096 });
    const r = await p.run({ path: models.ocrRec });
    expect(r.passes.map((x) => x.status)).toEqual(['shared', 'computed', 'computed']);
    expect(r.stats).toMatchObject({ computed: 2, published: 2 });
    expectCloseToReference(await runRec(await r.path()));
    await p.close();
  });

  it('read-only shared cache: reads hits, computes the rest locally, uploads nothing', async () => {
    const c = filled.container;
    const before = await blobNames(c);
    const p = pipeline(machine(), c, { minElements: 1024, updateSharedCache: false });
    const r = await p.run({ path: models.ocrRec });
    expect(r.passes.map((x) => x.status)).toEqual(['shared', 'computed', 'computed']);
    expect(r.stats.published).toBe(0);
    expect(await blobNames(c)).toEqual(before);
    await p.close();
  });

  it('Azurite stopped mid-run: the pipeline finishes from compute', async () => {
    const az = await startAzurite() as Azurite;
    const w = captureWarnings();
    try {
      const p = new Pipeline({ cache: { dir: machine(), connectionString: az.connectionString, containerName: 'stopping', sharedOptions: fast } });
      const [opt, f16, meta] = ocrPasses();
      p.add(opt).add({ ...f16, run: async (...args: unknown[]) => {
        await az.stop(); // the shared store goes away while pass 2 runs
        return (f16.run as (...a: unknown[]) => unknown)(...args);
      } }).add(meta);
      const r = await p.run({ path: models.ocrRec });
      expect(r.stats.computed).toBe(3);
      expect(r.stats.published).toBeLessThanOrEqual(1);
      expect(w.codes).toContain('ERR_TIER');
      expectCloseToReference(await runRec(await r.path()));
      await p.close();
    } finally {
      w.restore();
      await az.dispose();
    }
  });

  it('a killed upload (files without a manifest) is invisible, and `modelcache shared gc` collects it', async () => {
    const c = newContainer();
    const killed = await worker({ dir: machine(), container: c, killAfterFilesOf: 'AddMetadata' });
    expect(killed.signal).toBe('SIGKILL');
    const prefix = `entries/pipeline.output/f/${filled.finalId}/`;
    const names = await blobNames(c);
    expect(names.filter((b) => b.startsWith(prefix))).toEqual([expect.stringMatching(/\/model\.onnx$/)]); // files, no manifest
    const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, 'shared', ...args, '--connection-string', azurite().connectionString, '--container', c, '--json'], { encoding: 'utf8' });
    const ls = JSON.parse(cli('ls').stdout);
    expect(ls.entries.map((e: { id: string }) => e.id)).not.toContain(filled.finalId);
    // Another machine does not see the half-published output: it computes the last pass.
    const p = pipeline(machine(), c, { updateSharedCache: false });
    const r = await p.run({ path: models.ocrRec });
    expect(r.passes[2].status).toBe('computed');
    await p.close();
    expect(JSON.parse(cli('gc').stdout).blobs).toBe(0); // younger than the grace period
    // The last output's files, and those of an earlier upload the kill may have cut short too.
    const incomplete = JSON.parse(cli('gc', '--grace', '0', '--dry-run').stdout).blobs;
    expect(incomplete).toBeGreaterThanOrEqual(1);
    expect(await blobNames(c)).toEqual(names);
    expect(JSON.parse(cli('gc', '--grace', '0').stdout).blobs).toBe(incomplete);
    const left = await blobNames(c);
    expect(left.filter((b) => b.startsWith(prefix))).toEqual([]);
    const committed = new Set(left.filter((b) => b.endsWith('/manifest.json')).map((b) => b.slice(0, -'manifest.json'.length)));
    expect(left.every((b) => [...committed].some((m) => b.startsWith(m)))).toBe(true);
  });

  it('a blob corrupted in storage is detected, withdrawn and recomputed', async () => {
    const c = newContainer();
    const { r: cold } = await coldRun(c);
    const final = (await blobNames(c)).find((b) => b.startsWith(`entries/pipeline.output/f/${cold.id}/u`))!;
    const blob = BlobServiceClient.fromConnectionString(azurite().connectionString).getContainerClient(c).getBlockBlobClient(final);
    const props = await blob.getProperties();
    const bytes = await blob.downloadToBuffer();
    bytes[bytes.length >> 1] ^= 0x40;
    await blob.uploadData(bytes, { metadata: props.metadata });
    const w = captureWarnings();
    try {
      const p = pipeline(machine(), c);
      const r = await p.run({ path: models.ocrRec });
      const path = await r.path();
      await p.flush(); // the recomputed output is published in the background
      expect(r.passes.map((x) => x.status)).toEqual(['not-needed', 'shared', 'computed']);
      expect(r.stats).toMatchObject({ damaged: 1, computed: 1, published: 1 });
      expect(w.codes).toContain('ERR_CORRUPT');
      expectCloseToReference(await runRec(path));
      await p.close();
    } finally {
      w.restore();
    }
  });

  it('two processes racing on the same local dir and container: each pass computed once, correct, never mixed', async () => {
    const c = newContainer();
    const dir = machine();
    const [a, b] = await Promise.all([worker({ dir, container: c }), worker({ dir, container: c })]);
    expect([a.code, b.code], a.stderr + b.stderr).toEqual([0, 0]);
    expect(a.result!.id).toBe(b.result!.id);
    expect(a.result!.stats.computed + b.result!.stats.computed).toBe(3); // each pass once: the per-key lock of the directory
    expectCloseToReference(await runRec(a.result!.path));
    expectCloseToReference(await runRec(b.result!.path));
    // Exactly one committed manifest per output, and every one of them downloads verified.
    const manifests = (await blobNames(c)).filter((x) => x.endsWith('/manifest.json'));
    expect(manifests).toHaveLength(3);
    const third = await worker({ dir: machine(), container: c });
    expect(third.result!.statuses).toEqual(['not-needed', 'not-needed', 'shared']);
    expect(third.result!.stats.computed).toBe(0);
    expectCloseToReference(await runRec(third.result!.path));
  });
});
