// One trial of the session suite's fresh-process group: imports onnxruntime-node (and modelcache/ort),
// then times the first InferenceSession.create of this process, plain or cached; prints the ms.
// argv[2]: JSON { model, dir?: cache dir (cached when present) }
import ort from 'onnxruntime-node';
import { InferenceSession, sessionCacheInfo } from '../../dist/ort/index.js';

const { model, dir } = JSON.parse(process.argv[2]);
const t0 = performance.now();
const session = dir
  ? await InferenceSession.create(model, { logSeverityLevel: 3, cache: { dir } })
  : await ort.InferenceSession.create(model, { logSeverityLevel: 3 });
const ms = performance.now() - t0;
const status = dir ? sessionCacheInfo(session).status : 'plain';
await session.release();
process.stdout.write(`${JSON.stringify({ ms, status })}\n`);
