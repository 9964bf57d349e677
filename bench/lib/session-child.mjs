// One trial of the session suite's fresh-process group: from process start to the first inference
// finished. Imports onnxruntime-node (plain) or modelcache/ort only (cached, as an application that
// switched its import would), creates the session, runs it once, and prints the ms since the
// process started, with the create's status.
// argv[2]: JSON { model, feeds (see session-models.mjs), dir?: cache dir (cached when present) }
const { model, feeds, dir } = JSON.parse(process.argv[2]);
const api = dir ? await import('../../dist/ort/index.js') : (await import('onnxruntime-node')).default;
const { makeFeeds } = await import('./session-models.mjs');
const session = await api.InferenceSession.create(model, { logSeverityLevel: 3, ...(dir ? { cache: { dir } } : {}) });
await session.run(makeFeeds(api.Tensor, feeds));
const ms = performance.now();
const status = dir ? api.sessionCacheInfo(session).status : 'plain';
process.stdout.write(`${JSON.stringify({ ms, status })}\n`);
process.exit(0);
