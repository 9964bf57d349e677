import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
const { Pipeline } = await import('/work/main/dist/pipeline/index.js');
const { startAzurite } = await import('/work/main/test/setup/azurite.mjs');
const { ocrPasses } = await import('/work/main/test/fixtures/pipeline-passes.mjs');
const { recModelPath } = await import('/work/main/bench/lib/model-data.mjs');
const az = await startAzurite();
const scratch = mkdtempSync(path.join(os.tmpdir(), 'warm-'));
let k = 0;
const build = () => { const p = new Pipeline({ cache: { dir: path.join(scratch, `m${k++}`), connectionString: az.connectionString, containerName: 'pipeline', sharedOptions: { progress: false } } }); for (const pass of ocrPasses()) p.add(pass); return p; };
const model = recModelPath();
const f = build(); await (await f.run({ path: model })).path(); await f.close();
const t0 = performance.now();
for (let i = 0; i < 30; i++) { const p = build(); const r = await p.run({ path: model }); await r.path(); await p.close(); }
console.log('per warm run incl close', ((performance.now() - t0) / 30).toFixed(1));
process.exit(0);
