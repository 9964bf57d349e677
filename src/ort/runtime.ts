// The onnxruntime-node this process uses: loaded once from where the application resolves it (a
// peer dependency of `modelcache/ort` only), with its version read from its own package.json so
// that an upgrade of onnxruntime is a different cache key.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { CacheError } from '../errors.js';

/** Test-only: replaces the onnxruntime version in session keys (to prove it is part of the key). */
export const TEST_ORT_VERSION_ENV = 'MODELCACHE_ORT_TEST_VERSION';

export type OrtModule = typeof Ort;

const require = createRequire(import.meta.url);

function load(): { ort: OrtModule; version: string } {
  let ort: OrtModule;
  try {
    ort = require('onnxruntime-node') as OrtModule;
  } catch (err) {
    throw new CacheError(
      'ERR_BAD_INPUT',
      `modelcache/ort needs onnxruntime-node (a peer dependency of this entry point): install it with \`npm install onnxruntime-node\` (${(err as Error).message})`,
      { cause: err },
    );
  }
  let version = '';
  try {
    // Walk up from the resolved entry to the package root: onnxruntime-node has no "exports" map
    // today, but a future one could hide package.json from require.resolve.
    let dir = dirname(require.resolve('onnxruntime-node'));
    for (let i = 0; i < 5 && !version; i++, dir = dirname(dir)) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'onnxruntime-node' && pkg.version) version = pkg.version;
      } catch {
        /* not the package root yet */
      }
    }
  } catch {
    /* fall through to env.versions */
  }
  if (!version) version = (ort.env?.versions as Record<string, string> | undefined)?.node ?? 'unknown';
  return { ort, version };
}

const loaded = load();

/** The onnxruntime-node module. */
export const ort: OrtModule = loaded.ort;

/** The onnxruntime-node version in keys (`MODELCACHE_ORT_TEST_VERSION` overrides it, for tests only). */
export function ortVersion(): string {
  return process.env[TEST_ORT_VERSION_ENV] || loaded.version;
}

/** The installed onnxruntime-node version, never overridden. */
export const installedOrtVersion: string = loaded.version;
