// Fuzz target (scripts/fuzz-js.mjs) for the file scanner of external data references
// (src/onnx/scan.ts), which reads a user's model file by headers only: on any bytes it must give
// exactly what the in-memory reader (src/ort/onnx.ts externalLocations) gives, the same locations
// or the same ERR_CORRUPT, never another error. Seeds: the onnx-model corpus (test/fuzz/onnx-seeds.mjs).
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { CacheError } from '../../dist/errors.js';
import { externalLocationsOfFile } from '../../dist/onnx/scan.js';
import { externalLocations } from '../../dist/ort/onnx.js';

const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'modelcache-fuzz-scan-')), 'model.onnx');

function outcome(fn) {
  try {
    return { locations: fn() };
  } catch (err) {
    if (err instanceof CacheError && err.code === 'ERR_CORRUPT') return { corrupt: true };
    throw err;
  }
}

export function run(input) {
  writeFileSync(file, input);
  const fromFile = outcome(() => externalLocationsOfFile(file));
  const fromBytes = outcome(() => externalLocations(input));
  if (!isDeepStrictEqual(fromFile, fromBytes)) {
    throw new Error(`file scan ${JSON.stringify(fromFile)} but in-memory ${JSON.stringify(fromBytes)}: ${input.toString('hex').slice(0, 400)}`);
  }
}
