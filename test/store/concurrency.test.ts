// Several processes reading and writing the same keys of one cache directory at once, with a
// small maxBytes so eviction runs concurrently too. Values are self-verifying (key, version and a
// payload hash inside, the payload a pure function of key and version; test/fixtures/values.mjs).
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { decompress, DiskTier } from '../../src/index.js';
import { tempDir } from '../helpers.js';
// @ts-expect-error fixture module without types
import { checkValue, keyAt, payloadSize } from '../fixtures/values.mjs';

const WORKER = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'fixtures', 'store-worker.mjs');
const PROCESSES = 4;
const KEYS = 24;
const VERSIONS = 4;
const MAX_BYTES = 1024 * 1024;

interface WorkerResult {
  pid: number;
  written: string[];
  observed: string[];
  bad: string[];
  counts: { puts: number; putsRefused: number; gets: number; hits: number; deletes: number; thrown: number };
  stats: { corrupt: number; errors: number; evictions: number; hits: number };
  cacheStats?: { corrupt: number; errors: number };
  warnings: string[];
}

/** Forks the workers, starts them together once all have opened the store, collects results. */
function runWorkers(dir: string, mode: 'disk' | 'cache', ops: number): Promise<WorkerResult[]> {
  return new Promise((resolve, reject) => {
    const results: WorkerResult[] = [];
    let ready = 0;
    const children = Array.from({ length: PROCESSES }, (_, i) => {
      const opts = { dir, mode, seed: 1000 + i, ops, keys: KEYS, versions: VERSIONS, maxBytes: MAX_BYTES, inFlight: 4 };
      const child = fork(WORKER, [JSON.stringify(opts)], { execArgv: [], stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      child.on('message', (msg: { ready?: boolean; result?: WorkerResult }) => {
        if (msg.ready && ++ready === PROCESSES) for (const c of children) c.send('go');
        if (msg.result) results.push(msg.result);
      });
      child.on('exit', (code, signal) => {
        if (code !== 0) {
          for (const c of children) c.kill('SIGKILL');
          reject(new Error(`worker ${i} exited with ${code ?? signal}: ${stderr.slice(-4000)}`));
        } else if (results.length === PROCESSES) resolve(results);
      });
      return child;
    });
  });
}

const isBig = (key: string) => payloadSize(key, 0) > 64 * 1024;

describe.each([
  ['DiskTier', 'disk', 1200],
  ['Cache (zstd, small memory tier)', 'cache', 1200],
] as const)(`${PROCESSES} processes sharing one directory through %s`, (_name, mode, ops) => {
  const dir = tempDir('modelcache-concurrency-');
  let results: WorkerResult[];
  beforeAll(async () => {
    results = await runWorkers(dir, mode, ops);
  });

  test('every read returns a value written for that key, byte for byte, or a miss', () => {
    expect(results.flatMap((r) => r.bad)).toEqual([]);
    const written = new Set(results.flatMap((r) => r.written));
    const neverWritten = results.flatMap((r) => r.observed).filter((kv) => !written.has(kv));
    expect(neverWritten).toEqual([]);
  });

  test('reads found inline and file-backed values while all processes were writing', () => {
    const observedKeys = new Set(results.flatMap((r) => r.observed).map((kv) => kv.split('/')[0]));
    expect([...observedKeys].filter(isBig).length).toBeGreaterThan(0);
    expect([...observedKeys].filter((k) => !isBig(k)).length).toBeGreaterThan(0);
    expect(results.reduce((n, r) => n + r.counts.hits, 0)).toBeGreaterThan(PROCESSES * 50);
  });

  test('eviction ran concurrently with the reads and writes', () => {
    expect(results.reduce((n, r) => n + r.stats.evictions, 0)).toBeGreaterThan(0);
  });

  test('no process met a damaged entry, a failed operation or an exception', () => {
    const trouble = results.map((r) => ({
      corrupt: r.stats.corrupt, errors: r.stats.errors, thrown: r.counts.thrown, refused: r.counts.putsRefused,
      cache: r.cacheStats ?? { corrupt: 0, errors: 0 }, warnings: r.warnings,
    }));
    expect(trouble).toEqual(Array(PROCESSES).fill({ corrupt: 0, errors: 0, thrown: 0, refused: 0, cache: { corrupt: 0, errors: 0 }, warnings: [] }));
  });

  describe('afterwards', () => {
    let tier: DiskTier;
    beforeAll(() => {
      tier = new DiskTier({ dir, maxBytes: MAX_BYTES });
      return () => tier.close();
    });

    test('verify() finds no problems', async () => {
      expect((await tier.verify()).problems).toEqual([]);
    });

    test('the tier is at or under maxBytes', () => {
      expect(tier.stats().bytes).toBeLessThanOrEqual(MAX_BYTES);
    });

    test('every entry left in the index reads back as a value written for its key', async () => {
      const written = new Set(results.flatMap((r) => r.written));
      const listed = [...tier.list()].map((e) => e.key);
      expect(listed.length).toBeGreaterThan(0);
      for (const key of listed) {
        expect(Array.from({ length: KEYS }, (_, i) => keyAt(i))).toContain(key);
        const stored = await tier.get(key);
        expect(stored).toBeDefined();
        // Through Cache the disk holds the encoded frame (zstd, no encryption).
        const r = checkValue(key, mode === 'cache' ? decompress(stored!) : stored!);
        expect(r).toMatchObject({ ok: true });
        expect(written.has(`${key}/${r.version}`)).toBe(true);
      }
    });
  });
});
