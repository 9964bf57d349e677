// A writer killed with SIGKILL at random points, over and over, while another process reads:
// no torn value is ever returned, and the cache opens, repairs and works afterwards.
// (scripts/stress.mjs runs the same loop with a thousand kills: `npm run stress`.)
import { beforeAll, describe, expect, test } from 'vitest';
import * as lib from '../../src/index.js';
import { tempDir } from '../helpers.js';
// @ts-expect-error fixture module without types
import { checkAfterCrashes, runCrashLoop } from '../fixtures/crash-harness.mjs';

const KILLS = 60;

interface LoopResult {
  kills: number;
  killed: number;
  writerFailures: string[];
  reader: { reads: number; hits: number; mappedHits: number; torn: string[]; corrupt: number; errors: number; warnings: string[]; failed?: string };
}
interface AfterReport {
  tmpAfterOpen: string[];
  readable: number;
  wrong: string[];
  corruptOnRead: number;
  repairFound: string[];
  problemsAfterRepair: unknown[];
  readableAfterRepair: number;
  roundTrip: boolean[];
}

describe(`a writer killed with SIGKILL at random points (${KILLS} kills)`, () => {
  const dir = tempDir('modelcache-crash-');
  let loop: LoopResult;
  let after: AfterReport;
  beforeAll(async () => {
    loop = await runCrashLoop({ dir, kills: KILLS, seed: 7 });
    after = await checkAfterCrashes(lib, dir);
  });

  test('every kill landed on a live writer that had opened the cache', () => {
    expect(loop.writerFailures).toEqual([]);
    expect(loop.killed).toBe(KILLS);
  });

  test('a concurrent reader never got a torn or foreign value', () => {
    expect(loop.reader.failed).toBeUndefined();
    expect(loop.reader.torn).toEqual([]);
    expect(loop.reader.hits).toBeGreaterThan(0);
    expect(loop.reader.mappedHits).toBeGreaterThan(0);
  });

  test('a concurrent reader never found an entry whose file or value was missing or damaged', () => {
    expect({ corrupt: loop.reader.corrupt, errors: loop.reader.errors, warnings: loop.reader.warnings }).toEqual({ corrupt: 0, errors: 0, warnings: [] });
  });

  test('stale tmp files of the killed writers are gone once the cache is opened again', () => {
    expect(after.tmpAfterOpen).toEqual([]);
  });

  test('every value still readable is one a writer wrote for its key', () => {
    expect(after.wrong).toEqual([]);
    expect(after.corruptOnRead).toBe(0);
    expect(after.readable).toBeGreaterThan(0);
  });

  test('verify({ repair: true }) leaves nothing for verify() to find (orphans of the kills aged past the grace period)', () => {
    expect(after.problemsAfterRepair).toEqual([]);
  });

  test('verify({ repair: true }) keeps every entry that was readable', () => {
    expect(after.readableAfterRepair).toBe(after.readable);
  });

  test('the cache opens and works afterwards (inline and file-backed put/get)', () => {
    expect(after.roundTrip).toEqual([true, true]);
  });
});
