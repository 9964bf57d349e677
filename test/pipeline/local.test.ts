import { chmodSync, readFileSync, writeFileSync, mkdirSync, readdirSync, existsSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cache, hashFile, tensorCache } from '../../src/index.js';
import { PassError, Pipeline, modelId } from '../../src/pipeline/index.js';
import { tempDir } from '../helpers.js';
import { captureWarnings } from '../setup/use-azurite.js';
import { appendPass, failingPass } from './helpers.js';

describe('Pipeline (local cache)', () => {
  const root = tempDir();
  let n = 0;
  const fresh = () => join(root, `c${n++}`);
  const input = (text = 'm0') => {
    const p = join(root, `in-${n++}.txt`);
    writeFileSync(p, text);
    return p;
  };

  /** Ids of the pass outputs stored in the cache directory `dir`. */
  const storedOutputs = async (dir: string): Promise<string[]> => {
    const cache = new Cache({ dir, maxMemoryBytes: 0 });
    try {
      const ids: string[] = [];
      for await (const e of cache.entries('pipeline.output')) ids.push(e.key);
      return ids.sort();
    } finally {
      await cache.close();
    }
  };

  it('keeps the local directory under maxLocalBytes by evicting the least recently used outputs', async () => {
    const dir = fresh();
    const body = 'x'.repeat(50_000);
    const srcs = [input(`${body}1`), input(`${body}2`), input(`${body}3`)];
    const runOnce = async (src: string) => {
      const p = new Pipeline({ cache: dir, maxLocalBytes: 120_000 }).add(appendPass('+a'));
      const r = await p.run(src);
      await p.close();
      return r;
    };
    const first = await runOnce(srcs[0]);
    const second = await runOnce(srcs[1]);
    // A lookup counts as a use: the first output is now more recent than the second.
    expect((await runOnce(srcs[0])).passes[0].status).toBe('local');
    const third = await runOnce(srcs[2]); // 3 x ~50 KB > 120 KB: the least recently used goes
    expect(await storedOutputs(dir)).toEqual([first.id, third.id].sort());
    expect((await runOnce(srcs[1])).passes[0].status).toBe('computed');
    expect(second.id).not.toBe(first.id);
  });

  it('never evicts the output just made, even past the limit', async () => {
    const dir = fresh();
    const p = new Pipeline({ cache: dir, maxLocalBytes: 250 }).add(appendPass('+a'));
    await p.run(input('a'.repeat(200)));
    const b = await p.run(input('b'.repeat(200)));
    await p.close();
    expect(await storedOutputs(dir)).toEqual([b.id]);
  });

  it('uses an output larger than the whole limit uncached, with a warning, and finishes the run', async () => {
    const w = captureWarnings();
    try {
      const dir = fresh();
      const p = new Pipeline({ cache: dir, maxLocalBytes: 100 }).add(appendPass('+a')).add(appendPass('+b'));
      const r = await p.run(input('x'.repeat(1000)));
      expect(readFileSync(await r.path(), 'utf8')).toBe(`${'x'.repeat(1000)}+a+b`);
      expect(w.messages.join('\n')).toMatch(/could not be stored .*; using it uncached/);
      const path = await r.path();
      await p.close();
      expect(await storedOutputs(dir)).toEqual([]);
      expect(existsSync(path)).toBe(false); // its files go when the pipeline closes
    } finally {
      w.restore();
    }
  });

  it('gives the model of a result whose output was evicted since: computed again when asked for', async () => {
    const calls = { n: 0 };
    const p = new Pipeline({ cache: fresh(), maxLocalBytes: 250 }).add(appendPass('+a', calls));
    const a = await p.run(input('a'.repeat(200)));
    await p.run(input('b'.repeat(200))); // evicts a's output
    await p.flush(); // commits (and evicts) now; the files go on the next turn
    await new Promise((r) => setImmediate(r));
    expect(readFileSync(await a.path(), 'utf8')).toBe(`${'a'.repeat(200)}+a`);
    expect(calls.n).toBe(3);
    await p.close();
  });

  it('shares one byte limit and one LRU with tensor results in the same directory', async () => {
    const cache = new Cache({ dir: fresh(), maxMemoryBytes: 0, maxDiskBytes: 120_000, compression: false });
    const rows = (v: number) => ({ type: 'float32', dims: [1, 12_500], data: new Float32Array(12_500).fill(v) }); // 50 KB
    const identity = tensorCache({ cache })(async (x: ReturnType<typeof rows>) => x);
    const byNamespace = async () => {
      const out: Record<string, number> = {};
      for await (const e of cache.entries()) {
        const ns = e.namespace.startsWith('tensor.') ? 'tensor' : e.namespace;
        out[ns] = (out[ns] ?? 0) + 1;
      }
      return out;
    };
    await identity(rows(1));
    const p = new Pipeline({ cache }).add(appendPass('+a'));
    const first = await p.run(input('x'.repeat(50_000)));
    await identity(rows(2)); // past the limit: the oldest entry, a tensor row, goes
    await cache.flush();
    expect(await byNamespace()).toMatchObject({ tensor: 1, 'pipeline.output': 1 });
    await p.run(input('y'.repeat(50_000))); // past it again: now the oldest is the first output
    await cache.flush();
    expect(await byNamespace()).toMatchObject({ tensor: 1, 'pipeline.output': 1 });
    expect(await cache.has(first.id, { namespace: 'pipeline.output' })).toBe(false);
    await p.close();
    await cache.close();
  });

  it('uses a Cache it is given without closing it, and refuses one it cannot store files in', async () => {
    const cache = new Cache({ dir: fresh(), maxMemoryBytes: 0 });
    const p = new Pipeline({ cache }).add(appendPass('+a'));
    const r = await p.run(input());
    await p.close();
    expect((await cache.getFiles(r.id, { namespace: 'pipeline.output' }))?.location).toBe('local');
    await cache.close();
    expect(() => new Pipeline({ cache: new Cache({ dir: false }) })).toThrow(/a Cache with a disk tier/);
    const key = Buffer.alloc(32, 7);
    expect(() => new Pipeline({ cache: new Cache({ dir: fresh(), encryption: { algorithm: 'aes-256-gcm', key } }) })).toThrow(/a Cache without encryption/);
    expect(() => new Pipeline({ cache: new Cache({ dir: fresh() }), maxLocalBytes: 10 })).toThrow(/options\.maxLocalBytes/);
  });

  it('modelcache pipeline prune evicts outputs down to --max-bytes and leaves other entries', async () => {
    const dir = fresh();
    const p = new Pipeline({ cache: dir }).add(appendPass('+a'));
    for (const t of ['1', '2', '3']) await p.run(input(t.repeat(10_000)));
    const runs = (await p.runs()).length;
    await p.close();
    const cli = join(import.meta.dirname, '../../dist/cli/main.js');
    const out = JSON.parse(execFileSync(process.execPath, [cli, 'pipeline', 'prune', '--max-bytes', '25KB', '--dir', dir, '--json'], { encoding: 'utf8' }));
    expect(out).toMatchObject({ removed: 1, outputs: 2 });
    expect(out.bytes).toBeLessThanOrEqual(25_000);
    expect(await storedOutputs(dir)).toHaveLength(2);
    const q = new Pipeline({ cache: dir });
    expect(await q.runs()).toHaveLength(runs);
    await q.close();
  });

  it('computes each pass once, then serves the whole chain from the local cache', async () => {
    const dir = fresh();
    const src = input();
    const calls = { n: 0 };
    const build = () => new Pipeline({ cache: dir }).add(appendPass('+a', calls)).add(appendPass('+b', calls));
    const p1 = build();
    const r1 = await p1.run(src);
    expect(r1.passes.map((p) => p.status)).toEqual(['computed', 'computed']);
    const path1 = await r1.path();
    expect(readFileSync(path1, 'utf8')).toBe('m0+a+b');
    await p1.close();
    const p2 = build();
    const r2 = await p2.run({ path: src });
    expect(r2.computed).toBe(0);
    expect(r2.passes.map((p) => p.status)).toEqual(['not-needed', 'local']);
    expect(r2.id).toBe(r1.id);
    expect(await r2.path()).toBe(path1);
    expect(calls.n).toBe(2);
    await p2.close();
  });

  it('recomputes only the passes from a changed config on', async () => {
    const dir = fresh();
    const src = input();
    const p = new Pipeline({ cache: dir });
    await p.add(appendPass('+a')).add(appendPass('+b')).add(appendPass('+c')).run(src);
    await p.close();
    const q = new Pipeline({ cache: dir }).add(appendPass('+a')).add(appendPass('+B')).add(appendPass('+c'));
    const r = await q.run(src);
    expect(r.passes.map((x) => x.status)).toEqual(['local', 'computed', 'computed']);
    expect(readFileSync(await r.path(), 'utf8')).toBe('m0+a+B+c');
    await q.close();
  });

  it('does not cache a failed pass: the next run tries it again', async () => {
    const dir = fresh();
    const src = input();
    const calls = { n: 0 };
    const p = new Pipeline({ cache: dir }).add(appendPass('+a')).add(failingPass('boom', calls));
    const err = await p.run(src).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PassError);
    expect(err).toMatchObject({ code: 'ERR_PASS_FAILED', pass: 'Fails', cached: false });
    expect((err as Error).message).toContain('boom');
    await expect(p.run(src)).rejects.toThrow(/boom/);
    expect(calls.n).toBe(2);
    const runs = await p.runs();
    expect(runs.map((r) => r.status)).toEqual(['ok', 'failed', 'failed']);
    await p.close();
  });

  it('remembers a failure with cacheFailures: true and does not run the pass again', async () => {
    const dir = fresh();
    const src = input();
    const calls = { n: 0 };
    const p = new Pipeline({ cache: dir, cacheFailures: true }).add(failingPass('bad config', calls));
    await expect(p.run(src)).rejects.toMatchObject({ cached: false });
    await expect(p.run(src)).rejects.toMatchObject({ cached: true, message: expect.stringContaining('bad config') });
    expect(calls.n).toBe(1);
    await p.close();
  });

  it('stores directory models and hands their folder to the next pass', async () => {
    const dir = fresh();
    const src = input('base');
    const p = new Pipeline({ cache: dir });
    p.add({
      type: 'Split',
      run(inp, _cfg, ctx) {
        mkdirSync(join(ctx.outputDir, 'data'));
        writeFileSync(join(ctx.outputDir, 'model.onnx'), 'graph');
        writeFileSync(join(ctx.outputDir, 'data', 'weights.bin'), readFileSync(inp.path));
      },
    });
    let seen: { kind: string; files: string[] } | undefined;
    p.add({
      type: 'Inspect',
      run(inp, _cfg, ctx) {
        seen = { kind: inp.kind, files: readdirSync(inp.path).sort() };
        writeFileSync(ctx.outputPath(), readFileSync(join(inp.path, 'data', 'weights.bin')));
      },
    });
    const r = await p.run(src);
    expect(seen).toEqual({ kind: 'dir', files: ['data', 'model.onnx'] });
    const runs = await p.runs();
    expect(runs[0].kind).toBe('dir');
    expect(runs[0].files!.map((f) => f.path)).toEqual(['data/weights.bin', 'model.onnx']);
    expect(readFileSync(await r.path(), 'utf8')).toBe('base');
    await p.close();
  });

  it('carries attributes from the input through the passes', async () => {
    const p = new Pipeline({ cache: fresh() });
    p.add({ type: 'Tag', run: (inp, _c, ctx) => (writeFileSync(ctx.outputPath(), 'x'), { path: ctx.outputPath(), attributes: { tagged: true } }) });
    const r = await p.run({ path: input(), attributes: { task: 'ocr' } });
    expect(r.attributes).toEqual({ task: 'ocr', tagged: true });
    expect((await r.model()).attributes).toEqual({ task: 'ocr', tagged: true });
    await p.close();
  });

  it('copies in an output written outside ctx.outputDir', async () => {
    const outside = join(root, 'elsewhere.txt');
    const p = new Pipeline({ cache: fresh() }).add({ type: 'Elsewhere', run: () => (writeFileSync(outside, 'made'), outside) });
    const r = await p.run(input());
    expect(await r.path()).not.toBe(outside);
    expect(readFileSync(await r.path(), 'utf8')).toBe('made');
    await p.close();
  });

  it('detects a damaged local output, drops it and recomputes it', async () => {
    const dir = fresh();
    const src = input();
    const w = captureWarnings();
    try {
      const p = new Pipeline({ cache: dir }).add(appendPass('+a')).add(appendPass('+b'));
      const r1 = await p.run(src);
      const first = await p.run(src);
      // Damage pass 2's stored output (bit rot: same size): found by its description, refused
      // when its files are needed, and computed again from pass 1's output.
      const path2 = await r1.path();
      chmodSync(path2, 0o600);
      writeFileSync(path2, 'm0+a+X');
      const r2 = await p.run(src);
      expect(r2.passes.map((x) => x.status)).toEqual(['not-needed', 'local']);
      expect(readFileSync(await r2.path(), 'utf8')).toBe('m0+a+b');
      expect(r2.passes.map((x) => x.status)).toEqual(['local', 'computed']);
      expect(r2.stats.damaged).toBe(1);
      expect(w.codes).toContain('ERR_CORRUPT');
      expect(first.computed).toBe(0);
      await p.close();
    } finally {
      w.restore();
    }
  });

  it('writes a run record with everything needed to audit a computation', async () => {
    const src = input();
    const p = new Pipeline({ cache: fresh(), accelerator: { device: 'cpu', executionProvider: 'CPUExecutionProvider' } });
    p.add({ ...appendPass('+a'), name: 'first' });
    const r = await p.run(src);
    const [rec] = await p.runs();
    expect(rec).toMatchObject({
      pass: { type: 'Append', name: 'first', version: '1' },
      inputId: await modelId(src),
      outputId: r.id,
      config: { text: '+a' },
      accelerator: { device: 'cpu', executionProvider: 'CPUExecutionProvider' },
      status: 'ok',
      modelcacheVersion: expect.stringMatching(/^\d+\.\d+\.\d+/),
      kind: 'file',
    });
    expect(rec.start).toBeGreaterThan(Date.now() - 60_000);
    expect(rec.durationMs).toBeGreaterThanOrEqual(0);
    expect(rec.files).toEqual([{ path: 'model.txt', size: 4, hash: await hashFile(await r.path()) }]);
    await p.close();
  });

  it('caches evaluations by model id and evaluator config', async () => {
    const dir = fresh();
    const src = input();
    const evals = { n: 0 };
    const evaluator = (threshold: number) => ({
      type: 'Length',
      config: { threshold },
      evaluate: (m: { path: string }, cfg: { threshold: number }) => {
        evals.n++;
        return { length: readFileSync(m.path).length, ok: readFileSync(m.path).length > cfg.threshold };
      },
    });
    const p = new Pipeline({ cache: dir, evaluator: evaluator(3) }).add(appendPass('+a'));
    const r1 = await p.run(src);
    expect(r1.evaluation).toMatchObject({ metrics: { length: 4, ok: true }, cached: false });
    const r2 = await p.run(src);
    expect(r2.evaluation).toMatchObject({ metrics: { length: 4, ok: true }, cached: 'local' });
    expect((await p.evaluate(r2, evaluator(10))).metrics).toEqual({ length: 4, ok: false });
    expect((await p.evaluate(src, evaluator(1))).metrics).toEqual({ length: 2, ok: true });
    expect(evals.n).toBe(3);
    await p.close();
  });

  it('uses outputs found in a further (read-only) directory without copying them', async () => {
    const team = fresh();
    const mine = fresh();
    const src = input();
    const a = new Pipeline({ cache: team }).add(appendPass('+a'));
    const shared = await (await a.run(src)).path();
    await a.close();
    const b = new Pipeline({ cache: [mine, team] }).add(appendPass('+a')).add(appendPass('+b'));
    const r = await b.run(src);
    expect(r.passes.map((x) => x.status)).toEqual(['local', 'computed']);
    expect(readFileSync(await r.path(), 'utf8')).toBe('m0+a+b');
    expect((await r.path()).startsWith(mine)).toBe(true);
    expect(existsSync(shared)).toBe(true);
    await b.close();
  });

  it('runs an output once when several runs of one process need it at the same time', async () => {
    const calls = { n: 0 };
    const p = new Pipeline({ cache: fresh() }).add({ ...appendPass('+slow', calls), run: async (inp, cfg, ctx) => {
      calls.n++;
      await new Promise((r) => setTimeout(r, 50));
      writeFileSync(ctx.outputPath(), readFileSync(inp.path, 'utf8') + cfg.text);
    } });
    const src = input();
    const rs = await Promise.all([p.run(src), p.run(src), p.run(src)]);
    expect(calls.n).toBe(1);
    expect(new Set(await Promise.all(rs.map((r) => r.path()))).size).toBe(1);
    await p.close();
  });

  it('runs a pass once when two processes need its output from the same directory at the same time', async () => {
    const dir = fresh();
    const log = join(root, `runs-${n++}.log`);
    writeFileSync(log, '');
    const worker = join(import.meta.dirname, '../fixtures/pipeline-lock.mjs');
    const args = JSON.stringify({ dir, model: input(), log });
    const spawnOne = () => new Promise<{ status: string; text: string }>((done, fail) => {
      const child = spawn(process.execPath, [worker, args], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.on('exit', (code) => (code === 0 ? done(JSON.parse(out.trim().split('\n').pop()!)) : fail(new Error(`worker exited ${code}`))));
    });
    const results = await Promise.all([spawnOne(), spawnOne()]);
    expect(readFileSync(log, 'utf8').trim().split('\n')).toHaveLength(1);
    expect(results.map((r) => r.status).sort()).toEqual(['computed', 'local']);
    expect(results.map((r) => r.text)).toEqual(['m0+slow', 'm0+slow']);
  });

  it('refuses a config holding a function when the pass is added, saying how to declare it', () => {
    const pass = { type: 'Fn', config: { transform: (s: string) => s.toUpperCase() }, run() {} };
    const p = new Pipeline({ cache: fresh() });
    expect(() => p.add(pass)).toThrow(TypeError);
    expect(() => p.add(pass)).toThrow(/captured state cannot be hashed.*put the code in the pass's run\(\).* for pass #1\.config\.transform but received a function/);
    expect(() => p.add({ ...pass, config: { nested: [{ cb: () => 1 }] } })).toThrow(/pass #1\.config\.nested\[0\]\.cb/);
    return p.close();
  });

  it('keys two closures of one source over different values apart: neither is cached, both refused', () => {
    const make = (k: number) => ({ type: 'Scale', config: { scale: (x: number) => x * k }, run() {} });
    const p = new Pipeline({ cache: fresh() });
    expect(() => p.add(make(2))).toThrow(TypeError);
    expect(() => p.add(make(3))).toThrow(TypeError);
    return p.close();
  });

  it('refuses a symbol or a circular reference in a config as it refuses a function', async () => {
    const p = new Pipeline({ cache: fresh() });
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    expect(() => p.add({ type: 'S', config: { tag: Symbol('a') }, run() {} })).toThrow(/pass #1\.config\.tag/);
    expect(() => p.add({ type: 'C', config: { loop }, run() {} })).toThrow(/circular/);
    await expect(p.run(input(), { evaluator: { type: 'E', config: { f: () => 1 }, evaluate: () => ({}) } })).rejects.toThrow(/options\.evaluator\.config\.f/);
    await p.close();
  });

  it('rejects bad options, passes and models by name', () => {
    expect(() => new Pipeline({ cache: fresh(), cacheFailure: true } as never)).toThrow(/Unknown option "cacheFailure"/);
    expect(() => new Pipeline({ cache: { dir: fresh(), updateShared: false } as never })).toThrow(/Unknown option "updateShared"/);
    const p = new Pipeline({ cache: fresh() });
    expect(() => p.add({ type: 'X' } as never)).toThrow(/pass #1.run/);
    expect(() => p.add({ type: '', run() {} })).toThrow(/pass #1.type/);
    p.add({ type: 'X', name: 'x', run() {} });
    expect(() => p.add({ type: 'Y', name: 'x', run() {} })).toThrow(/already used/);
    expect(() => p.add({ type: 'X', run() {}, confg: {} } as never)).toThrow(/Unknown option "confg"/);
    expect(() => new Pipeline({ cache: { dir: ['https://a1b.blob.core.windows.net/x', 'https://a2b.blob.core.windows.net/y'] } })).toThrow(/more than one shared location/);
    return expect(p.run(join(root, 'missing.onnx'))).rejects.toThrow(/missing\.onnx/);
  });
});
