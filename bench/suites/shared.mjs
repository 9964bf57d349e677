// shared: AzureBlobTier against the raw SDK calls (uploadData / downloadToBuffer) on one Azurite
// (loopback, in memory), 256 MiB each way; then a warm pipeline (3 passes on PaddleOCR rec) on an
// empty local dir with a full shared cache, against a full download of every intermediate.
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCipheriv, randomBytes } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import { AzureBlobTier } from '../../dist/index.js';
import { Pipeline } from '../../dist/pipeline/index.js';
import { recModelPath } from '../lib/model-data.mjs';
import { mbps, measureRounds } from '../lib/measure.mjs';
import { addCases, createGroup, finishGroup, medianOf, target } from '../lib/result.mjs';
import { startAzurite } from '../../test/setup/azurite.mjs';
import { ocrPasses } from '../../test/fixtures/pipeline-passes.mjs';

const MiB = 1024 * 1024;
const CONTAINER = 'bench';

/** Incompressible bytes (AES-CTR keystream), like the weights of a model. */
function payload(size) {
  return createCipheriv('aes-128-ctr', randomBytes(16), randomBytes(16)).update(Buffer.alloc(size));
}

function transferColumns() {
  return [
    { key: 'ms', label: 'time', unit: 'ms', better: 'lower' },
    { key: 'mbps', label: 'throughput', unit: 'MB/s', better: 'higher' },
  ];
}

async function transfers(az, quick, notes) {
  const size = (quick ? 64 : 256) * MiB;
  const data = payload(size);
  const raw = BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient(CONTAINER);
  await raw.createIfNotExists();
  const tier = new AzureBlobTier({ connectionString: az.connectionString, containerName: CONTAINER, progress: false });
  let n = 0;
  const timed = async (fn) => {
    const t0 = performance.now();
    await fn();
    const ms = performance.now() - t0;
    return { ms, mbps: mbps(size, ms) };
  };
  const rounds = quick ? { min: 3, max: 3, budgetMs: 0, settleMs: 200 } : { min: 5, max: 9, budgetMs: 30_000, settleMs: 300 };

  // Uploads: every sample writes a new blob (the tier never overwrites), deleted afterwards.
  const uploadCase = (name, upload) => ({
    name,
    async sample() {
      const blob = `up-${n++}`;
      try {
        return await timed(() => upload(blob));
      } finally {
        await raw.getBlobClient(blob).deleteIfExists();
        await raw.getBlobClient(tier.valueName(blob)).deleteIfExists();
      }
    },
  });
  const up = createGroup(`upload ${size / MiB} MiB`, {
    baseline: 'SDK uploadData',
    columns: transferColumns(),
    note: 'AzureBlobTier put hashes the value (tree hash into blob metadata) and creates the blob conditionally (If-None-Match: *) in one request, as uploadData does with its defaults (one request up to 256 MiB). uploadFile sends a file in parallel 8 MiB blocks, 4 in flight (for real Azure and files of any size); on a loopback Azurite blocks cost more than they gain.',
  });
  const fileDir = mkdtempSync(path.join(os.tmpdir(), 'modelcache-bench-upload-'));
  const file = path.join(fileDir, 'model.bin');
  writeFileSync(file, data);
  try {
    addCases(up, await measureRounds('upload', [
      uploadCase('SDK uploadData', (blob) => raw.getBlockBlobClient(blob).uploadData(data)),
      uploadCase('AzureBlobTier put', async (blob) => {
        if (!(await tier.put(blob, data))) throw new Error('AzureBlobTier put failed');
      }),
      uploadCase('AzureBlobTier uploadFile', async (blob) => {
        if ((await tier.uploadFile(blob, file)) !== 'created') throw new Error('AzureBlobTier uploadFile failed');
      }),
    ], rounds));
  } finally {
    rmSync(fileDir, { recursive: true, force: true });
  }
  finishGroup(up);

  // Downloads of the same bytes, stored once by each writer.
  await raw.getBlockBlobClient('down-raw').uploadData(data);
  if (!(await tier.put('down-tier', data))) throw new Error('AzureBlobTier put failed');
  const down = createGroup(`download ${size / MiB} MiB`, {
    baseline: 'SDK downloadToBuffer',
    columns: transferColumns(),
    note: 'AzureBlobTier reads the first block with the metadata, the rest in parallel ranges (8 MiB, 4 in flight), then verifies the tree hash before returning. downloadToBuffer runs with its defaults (properties, then 4 MiB ranges).',
  });
  let verified = true;
  addCases(down, await measureRounds('download', [
    { name: 'SDK downloadToBuffer', sample: () => timed(() => raw.getBlobClient('down-raw').downloadToBuffer()) },
    {
      name: 'AzureBlobTier get',
      sample: () =>
        timed(async () => {
          const got = await tier.get('down-tier');
          verified &&= got !== undefined && got.length === size;
        }),
    },
  ], rounds));
  finishGroup(down);
  if (!verified) notes.push('AzureBlobTier get returned a miss: the download figures are not valid.');
  const s = tier.stats();
  if (s.errors || s.corrupt) notes.push(`AzureBlobTier counted ${s.errors} errors and ${s.corrupt} corrupt reads during the transfers.`);
  await raw.getBlobClient('down-raw').deleteIfExists();
  await tier.delete('down-tier');
  return {
    groups: [up, down],
    targets: [
      target('AzureBlobTier put vs SDK uploadData (throughput)', medianOf(up, 'AzureBlobTier put', 'mbps') / medianOf(up, 'SDK uploadData', 'mbps'), 0.9),
      target('AzureBlobTier get vs SDK downloadToBuffer (throughput)', medianOf(down, 'AzureBlobTier get', 'mbps') / medianOf(down, 'SDK downloadToBuffer', 'mbps'), 0.9),
    ],
  };
}

async function warmPipeline(az, quick, notes) {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'modelcache-bench-shared-'));
  const model = recModelPath();
  const sharedOptions = { progress: false };
  const cacheFor = (dir) => ({ dir, connectionString: az.connectionString, containerName: 'pipeline', sharedOptions });
  const build = (dir) => {
    const p = new Pipeline({ cache: cacheFor(dir) });
    for (const pass of ocrPasses()) p.add(pass);
    return p;
  };
  let k = 0;
  const freshDir = () => path.join(scratch, `machine-${k++}`);
  try {
    // Fill the shared cache once (cold run on "another machine").
    const filler = build(freshDir());
    const cold = await filler.run({ path: model });
    const finalSize = statSync(await cold.path()).size;
    const ids = cold.passes.map((p) => p.outputId);
    await filler.close();
    const tier = new AzureBlobTier({ connectionString: az.connectionString, containerName: 'pipeline', progress: false, update: false });
    const OUTPUTS = 'pipeline.output';
    let intermediates = 0;
    for (const id of ids) intermediates += (await tier.lookupFiles(id, OUTPUTS)).size;

    let lazyBytes = 0;
    let computed = 0;
    const cases = [
      {
        name: 'download every intermediate',
        async sample() {
          const dir = freshDir();
          const t0 = performance.now();
          let bytes = 0;
          for (const id of ids) {
            const hit = await tier.lookupFiles(id, OUTPUTS);
            const out = path.join(dir, id);
            if (!(await tier.downloadFiles(hit, out))) throw new Error(`download of ${id} failed`);
            bytes += hit.size;
          }
          const ms = performance.now() - t0;
          rmSync(dir, { recursive: true, force: true });
          return { ms, mb: bytes / 1e6 };
        },
      },
      {
        name: 'modelcache warm pipeline',
        async sample() {
          const dir = freshDir();
          const t0 = performance.now();
          const p = build(dir);
          const r = await p.run({ path: model });
          await r.path();
          const ms = performance.now() - t0;
          lazyBytes = r.stats.downloadedBytes;
          computed += r.stats.computed;
          await p.close();
          rmSync(dir, { recursive: true, force: true });
          return { ms, mb: r.stats.downloadedBytes / 1e6 };
        },
      },
    ];
    const g = createGroup('warm pipeline, empty local dir, full shared cache (3 passes, PaddleOCR rec)', {
      baseline: 'download every intermediate',
      columns: [
        { key: 'ms', label: 'time to final model', unit: 'ms', better: 'lower' },
        { key: 'mb', label: 'downloaded', unit: 'MB', better: 'lower' },
      ],
      note: `The pipeline looks up output ids from the end of the chain (manifests only, through its Cache) and downloads only the final model when its path is asked for (${(finalSize / 1e6).toFixed(1)} MB of ${(intermediates / 1e6).toFixed(1)} MB of outputs). Its time includes hashing the input model and opening the local cache.`,
    });
    addCases(g, await measureRounds('warm pipeline', cases, quick ? { min: 3, max: 3, budgetMs: 0 } : { min: 7, max: 15, budgetMs: 10_000 }));
    finishGroup(g);
    if (computed > 0) notes.push(`The warm pipeline computed ${computed} passes: the shared cache was not used as expected.`);
    return {
      groups: [g],
      targets: [target('warm pipeline downloads only the final model (final model bytes / bytes downloaded)', lazyBytes > 0 ? finalSize / lazyBytes : 0, 1)],
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

export default {
  name: 'shared',
  title: 'AzureBlobTier vs the raw SDK on Azurite; warm pipeline from a shared cache',
  async run({ quick }) {
    const az = await startAzurite();
    const notes = ['Azurite (blob service, in memory) on 127.0.0.1 in a separate process, started by the suite: it shares the CPUs with the client.'];
    try {
      const t = await transfers(az, quick, notes);
      const w = await warmPipeline(az, quick, notes);
      return { notes, groups: [...t.groups, ...w.groups], targets: [...t.targets, ...w.targets] };
    } finally {
      await az.dispose();
    }
  },
};
