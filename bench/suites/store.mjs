// store: the tiers against what users would otherwise use. MemoryTier vs lru-cache (maxSize);
// DiskTier vs cacache on 4 KiB values (throughput and median get latency); a 256 MiB entry as a
// mapped Buffer vs cacache.get; and put throughput of a full tier (evicting) vs an empty one.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomFillSync } from 'node:crypto';
import cacache from 'cacache';
import { LRUCache } from 'lru-cache';
import { DiskTier, MemoryTier } from '../../dist/index.js';
import { looped, measureRounds, median, timeOnce } from '../lib/measure.mjs';
import { addCases, createGroup, finishGroup, medianOf, target } from '../lib/result.mjs';

const KiB = 1024;
const MiB = 1024 * KiB;

function scratch(name) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `modelcache-bench-${name}-`));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const key = (i) => i.toString(16).padStart(32, '0');

/** Memory: get and put ops/s for one value size. */
async function memoryGroup(valueSize, quick) {
  const n = valueSize >= MiB ? 64 : 4096;
  const values = Array.from({ length: n }, () => randomFillSync(Buffer.allocUnsafe(valueSize)));
  const keys = values.map((_, i) => key(i));
  const maxBytes = n * valueSize * 2;
  const lru = new LRUCache({ maxSize: maxBytes, sizeCalculation: (v) => v.length });
  const lruCopy = new LRUCache({ maxSize: maxBytes, sizeCalculation: (v) => v.length });
  const mem = new MemoryTier({ maxBytes });
  keys.forEach((k, i) => {
    lru.set(k, values[i]);
    lruCopy.set(k, Buffer.from(values[i]));
    mem.put(k, values[i]);
  });
  let j = 0;
  const next = () => (j = (j + 1) % n);
  const opsPerSec = (fn) => {
    const get = looped(fn, quick ? 5 : 25);
    return () => ({ ops: 1000 / get() });
  };
  const getCases = [
    { name: 'lru-cache', sample: opsPerSec(() => lru.get(keys[next()])) },
    { name: 'lru-cache + copy out', sample: opsPerSec(() => Buffer.from(lruCopy.get(keys[next()]))) },
    { name: 'MemoryTier', sample: opsPerSec(() => mem.get(keys[next()])) },
  ];
  const putCases = [
    { name: 'lru-cache', sample: opsPerSec(() => { const i = next(); lru.set(keys[i], values[i]); }) },
    { name: 'lru-cache + copy in', sample: opsPerSec(() => { const i = next(); lruCopy.set(keys[i], Buffer.from(values[i])); }) },
    { name: 'MemoryTier', sample: opsPerSec(() => { const i = next(); mem.put(keys[i], values[i]); }) },
  ];
  const rounds = quick ? { min: 3, max: 3, budgetMs: 0 } : { min: 7, max: 11, budgetMs: 3000 };
  const label = valueSize >= MiB ? `${valueSize / MiB} MiB` : `${valueSize / KiB} KiB`;
  const cols = (what) => [{ key: 'ops', label: `${what} ops/s`, unit: 'ops/s', better: 'higher', digits: 0 }];
  const note = 'MemoryTier copies values in and out (a caller can never alias cache state); "+ copy" rows give lru-cache the same guarantee.';
  const g = createGroup(`memory get, ${label} values`, { baseline: 'lru-cache', columns: cols('get'), note });
  addCases(g, await measureRounds(`memory get ${label}`, getCases, rounds));
  const p = createGroup(`memory put, ${label} values`, { baseline: 'lru-cache', columns: cols('put'), note });
  addCases(p, await measureRounds(`memory put ${label}`, putCases, rounds));
  return [finishGroup(g), finishGroup(p)];
}

/** Disk: 4 KiB get/put ops/s and median get latency, DiskTier vs cacache. */
async function diskSmall(quick) {
  const n = quick ? 500 : 2000;
  const values = Array.from({ length: n }, () => randomFillSync(Buffer.allocUnsafe(4 * KiB)));
  const keys = values.map((_, i) => key(i));
  const tier = new DiskTier({ dir: scratch('disk'), maxBytes: 1e9 });
  const cdir = scratch('cacache');
  // Puts: every sample writes `batch` new entries, awaited together (the way a batch of tensor
  // results arrives).
  const batch = quick ? 100 : 200;
  let round = 0;
  const putCases = [
    {
      name: 'cacache',
      sample: async () => {
        const r = round++;
        const ms = await timeOnce(() => Promise.all(values.slice(0, batch).map((v, i) => cacache.put(cdir, `p${r}-${i}`, v))));
        return { ops: (batch * 1000) / ms };
      },
    },
    {
      name: 'DiskTier',
      sample: async () => {
        const r = round++;
        // Acknowledged once queued; flush() commits them, inside the timing (as cacache's writes are).
        const ms = await timeOnce(async () => {
          values.slice(0, batch).forEach((v, i) => tier.put(key(1e6 + r * batch + i), v));
          await tier.flush();
        });
        return { ops: (batch * 1000) / ms };
      },
    },
  ];
  const rounds = quick ? { min: 3, max: 3, budgetMs: 0 } : { min: 7, max: 11, budgetMs: 6000 };
  const p = createGroup('disk put, 4 KiB values', {
    baseline: 'cacache',
    columns: [{ key: 'ops', label: 'put ops/s', unit: 'ops/s', better: 'higher', digits: 0 }],
    note: `${batch} puts awaited together per sample. DiskTier queues small values inline and commits the batch in one LMDB transaction (flush() timed; durable: true fsyncs files); cacache writes a content file and an index line each.`,
  });
  addCases(p, await measureRounds('disk put', putCases, rounds));

  for (let i = 0; i < n; i++) {
    tier.put(keys[i], values[i]);
    await cacache.put(cdir, keys[i], values[i]);
  }
  await tier.flush();
  let j = 0;
  const latencies = { cacache: [], DiskTier: [] };
  const getCases = [
    {
      name: 'cacache',
      sample: async () => {
        const t0 = performance.now();
        const count = 200;
        for (let i = 0; i < count; i++) {
          const s = performance.now();
          await cacache.get(cdir, keys[(j = (j + 1) % n)]);
          latencies.cacache.push((performance.now() - s) * 1000);
        }
        return { ops: (count * 1000) / (performance.now() - t0) };
      },
    },
    {
      name: 'DiskTier',
      sample: async () => {
        const t0 = performance.now();
        const count = 2000;
        for (let i = 0; i < count; i++) {
          const s = performance.now();
          await tier.get(keys[(j = (j + 1) % n)]);
          latencies.DiskTier.push((performance.now() - s) * 1000);
        }
        return { ops: (count * 1000) / (performance.now() - t0) };
      },
    },
  ];
  const g = createGroup('disk get, 4 KiB values', {
    baseline: 'cacache',
    columns: [{ key: 'ops', label: 'get ops/s', unit: 'ops/s', better: 'higher', digits: 0 }],
    note: 'Both verify what they read: DiskTier its XXH3 tree hash, cacache its sha512 integrity. Awaited one at a time.',
  });
  addCases(g, await measureRounds('disk get', getCases, rounds));
  const lat = createGroup('disk get latency, 4 KiB values', {
    baseline: 'cacache',
    columns: [{ key: 'us', label: 'median get', unit: 'us', better: 'lower', digits: 1 }],
    note: 'Median over every single get timed above; diskcache (Python, SQLite) publishes ~12 us.',
  });
  lat.cases.push(
    ...Object.entries(latencies).map(([name, xs]) => ({ name, metrics: { us: { samples: [median(xs)], median: median(xs), unit: 'us', ratio: null } } })),
  );
  await tier.close();
  return [finishGroup(p), finishGroup(g), finishGroup(lat)];
}

/** A 256 MiB entry: DiskTier getFile as a mapped Buffer vs cacache.get. */
async function diskLarge(quick) {
  const size = (quick ? 64 : 256) * MiB;
  const value = randomFillSync(Buffer.allocUnsafe(size));
  const tier = new DiskTier({ dir: scratch('disk-large'), maxBytes: 4e9 });
  const cdir = scratch('cacache-large');
  tier.put(key(1), value);
  await tier.flush();
  await cacache.put(cdir, 'big', value);
  const cases = [
    { name: 'cacache.get', sample: async () => ({ ms: await timeOnce(() => cacache.get(cdir, 'big')) }) },
    {
      name: 'DiskTier getFile map (verified)',
      sample: async () => {
        let f;
        const ms = await timeOnce(async () => { f = await tier.getFile(key(1), { map: true }); });
        f.mapped.close();
        return { ms };
      },
    },
    {
      name: 'DiskTier getFile map (verify: false)',
      sample: async () => {
        let f;
        const ms = await timeOnce(async () => { f = await tier.getFile(key(1), { map: true, verify: false }); });
        f.mapped.close();
        return { ms };
      },
    },
  ];
  const rounds = { ...(quick ? { min: 3, max: 3, budgetMs: 0 } : { min: 5, max: 9, budgetMs: 10000 }), settleMs: 200 };
  const g = createGroup(`disk get of one ${size / MiB} MiB entry`, {
    baseline: 'cacache.get',
    columns: [{ key: 'ms', label: 'to usable Buffer', unit: 'ms', better: 'lower' }],
    note: 'Warm page cache. cacache reads the file into memory and checks sha512; DiskTier maps it and checks its XXH3 tree hash (in parallel), or skips the check.',
  });
  addCases(g, await measureRounds('disk large get', cases, rounds));
  await tier.close();
  return finishGroup(g);
}

/** Sustained put MB/s of 1 MiB values into a tier kept full (evicting) vs one with room. */
async function eviction(quick) {
  const limit = (quick ? 256 : 1024) * MiB;
  const values = Array.from({ length: 16 }, () => randomFillSync(Buffer.allocUnsafe(MiB)));
  const full = new DiskTier({ dir: scratch('evict'), maxBytes: limit });
  const roomy = new DiskTier({ dir: scratch('roomy'), maxBytes: 1e12 });
  let next = 0;
  for (let i = 0; i < limit / MiB; i++) full.put(key(next++), values[i % 16]);
  await full.flush();
  const burst = 64;
  const sample = (tier) => async () => {
    const ms = await timeOnce(async () => {
      for (let i = 0; i < burst; i++) {
        tier.put(key(next++), values[i % 16]);
        await tier.flush(); // committed (and evicted for) one by one, as a steady stream of puts is
      }
    });
    return { mbs: (burst * MiB) / (ms * 1e3) };
  };
  const cases = [
    { name: 'puts with room', sample: sample(roomy) },
    { name: 'puts into a full tier (evicting)', sample: sample(full) },
  ];
  const rounds = quick ? { min: 3, max: 3, budgetMs: 0 } : { min: 7, max: 11, budgetMs: 8000 };
  const g = createGroup(`1 MiB puts, ${limit / MiB} MiB tier`, {
    baseline: 'puts with room',
    columns: [{ key: 'mbs', label: 'sustained put', unit: 'MB/s', better: 'higher' }],
    note: `${burst} sequential puts per sample; the full tier evicts least recently used entries (batched, down to 95%) as it goes.`,
  });
  addCases(g, await measureRounds('eviction', cases, rounds));
  const stats = full.stats();
  await full.close();
  await roomy.close();
  return { group: finishGroup(g), withinLimit: stats.bytes <= limit, evictions: stats.evictions };
}

export default {
  name: 'store',
  title: 'memory and disk tiers vs lru-cache and cacache',
  async run({ quick }) {
    const groups = [...(await memoryGroup(KiB, quick)), ...(await memoryGroup(MiB, quick))];
    const small = await diskSmall(quick);
    const large = await diskLarge(quick);
    const ev = await eviction(quick);
    groups.push(...small, large, ev.group);
    const [memGet1k, memPut1k, memGet1m, memPut1m] = groups;
    const [put4k, get4k, lat] = small;
    const targets = [
      target('MemoryTier get vs lru-cache, 1 KiB', medianOf(memGet1k, 'MemoryTier', 'ops') / medianOf(memGet1k, 'lru-cache', 'ops'), 0.8),
      target('MemoryTier put vs lru-cache, 1 KiB', medianOf(memPut1k, 'MemoryTier', 'ops') / medianOf(memPut1k, 'lru-cache', 'ops'), 0.8),
      target('MemoryTier get vs lru-cache, 1 MiB', medianOf(memGet1m, 'MemoryTier', 'ops') / medianOf(memGet1m, 'lru-cache', 'ops'), 0.8),
      target('MemoryTier put vs lru-cache, 1 MiB', medianOf(memPut1m, 'MemoryTier', 'ops') / medianOf(memPut1m, 'lru-cache', 'ops'), 0.8),
      // The same no-alias guarantee (a copy in and out) measured on lru-cache: what MemoryTier's
      // design costs versus what its implementation costs.
      target('MemoryTier get vs lru-cache + copy out, 1 KiB', medianOf(memGet1k, 'MemoryTier', 'ops') / medianOf(memGet1k, 'lru-cache + copy out', 'ops'), 0.8),
      target('MemoryTier put vs lru-cache + copy in, 1 KiB', medianOf(memPut1k, 'MemoryTier', 'ops') / medianOf(memPut1k, 'lru-cache + copy in', 'ops'), 0.8),
      target('MemoryTier get vs lru-cache + copy out, 1 MiB', medianOf(memGet1m, 'MemoryTier', 'ops') / medianOf(memGet1m, 'lru-cache + copy out', 'ops'), 0.8),
      target('MemoryTier put vs lru-cache + copy in, 1 MiB', medianOf(memPut1m, 'MemoryTier', 'ops') / medianOf(memPut1m, 'lru-cache + copy in', 'ops'), 0.8),
      target('DiskTier put vs cacache, 4 KiB', medianOf(put4k, 'DiskTier', 'ops') / medianOf(put4k, 'cacache', 'ops'), 5),
      target('DiskTier get vs cacache, 4 KiB', medianOf(get4k, 'DiskTier', 'ops') / medianOf(get4k, 'cacache', 'ops'), 5),
      target('DiskTier median get latency <= 12 us (value: 12 / median)', 12 / medianOf(lat, 'DiskTier', 'us'), 1),
      target('256 MiB mapped get vs cacache.get', medianOf(large, 'cacache.get', 'ms') / medianOf(large, 'DiskTier getFile map (verified)', 'ms'), 20),
      target('put MB/s full tier vs with room', medianOf(ev.group, 'puts into a full tier (evicting)', 'mbs') / medianOf(ev.group, 'puts with room', 'mbs'), 0.8),
    ];
    const notes = [`eviction: tier stayed within its limit: ${ev.withinLimit}; ${ev.evictions} evictions.`];
    return { notes, groups, targets };
  },
};
