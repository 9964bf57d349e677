// Run records, evaluation results and cached failures of pipelines, kept in a DiskTier beside
// the outputs (`<dir>/pipeline/records`): each is one JSON value written in one LMDB transaction,
// so a reader never sees half a record.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DiskTier } from '../store/disk/tier.js';
import { logDebug } from '../log.js';
import type { ModelFile } from './model.js';

/** The modelcache version written into records. */
export const MODELCACHE_VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** What a pass run did: written for every computation, successful or not. */
export interface RunRecord {
  runId: string;
  pass: { type: string; name: string; version: string };
  inputId: string;
  outputId: string;
  /** The canonical config (unportable values described, e.g. "<function cb>"). */
  config: unknown;
  accelerator: unknown;
  /** Start, ms since epoch. */
  start: number;
  durationMs: number;
  status: 'ok' | 'failed';
  error?: string;
  /** Whether the output may be shared (false: a config value of this pass or one before had no portable encoding). */
  shareable: boolean;
  modelcacheVersion: string;
  host: string;
  kind?: 'file' | 'dir';
  /** The output's files with their hashes (successful runs). */
  files?: ModelFile[];
}

/** A cached evaluation result. */
export interface EvaluationRecord {
  /** Id of this evaluation (model id + evaluator). */
  id: string;
  modelId: string;
  evaluator: { type: string; version: string; config: unknown };
  metrics: Record<string, unknown>;
  start: number;
  durationMs: number;
  modelcacheVersion: string;
  host: string;
}

const RUN = 'pipeline-run';
const EVAL = 'pipeline-eval';
const FAILURE = 'pipeline-failure';

/** A fresh run id (sortable by time). */
export function newRunId(start: number): string {
  return `${start.toString(36).padStart(9, '0')}${randomBytes(5).toString('hex')}`;
}

export const HOST = hostname();

/** The record store of one local pipeline cache. */
export class RecordStore {
  readonly tier: DiskTier;

  constructor(cacheDir: string, options: { readOnly?: boolean } = {}) {
    this.tier = new DiskTier({ dir: join(cacheDir, 'pipeline', 'records'), ...(options.readOnly ? { readOnly: true } : {}) });
  }

  async #getJson<T>(key: string): Promise<T | undefined> {
    try {
      const v = await this.tier.get(key);
      if (v === undefined) return undefined;
      return JSON.parse(v.toString('utf8')) as T;
    } catch (err) {
      logDebug(`pipeline records: unreadable ${key}: ${(err as Error).message}`);
      return undefined;
    }
  }

  async #put(key: string, kind: string, value: unknown, meta?: Record<string, unknown>): Promise<void> {
    await this.tier.put(key, Buffer.from(JSON.stringify(value)), { kind, ...(meta ? { meta } : {}) });
  }

  async putRun(rec: RunRecord): Promise<void> {
    await this.#put(`run-${rec.runId}`, RUN, rec, { pass: rec.pass.name, status: rec.status, outputId: rec.outputId });
  }

  /** Run records, oldest first. */
  async runs(): Promise<RunRecord[]> {
    const out: RunRecord[] = [];
    const keys = [...this.tier.list()].filter((e) => e.kind === RUN).map((e) => e.key);
    for (const key of keys) {
      const rec = await this.#getJson<RunRecord>(key);
      if (rec) out.push(rec);
    }
    return out.sort((a, b) => a.start - b.start || a.runId.localeCompare(b.runId));
  }

  async putEvaluation(rec: EvaluationRecord): Promise<void> {
    await this.#put(`eval-${rec.id}`, EVAL, rec);
  }

  evaluation(id: string): Promise<EvaluationRecord | undefined> {
    return this.#getJson<EvaluationRecord>(`eval-${id}`);
  }

  /** Records that the pass producing `outputId` failed (only with `cacheFailures: true`). */
  async putFailure(rec: RunRecord): Promise<void> {
    await this.#put(`fail-${rec.outputId}`, FAILURE, rec);
  }

  failure(outputId: string): Promise<RunRecord | undefined> {
    return this.#getJson<RunRecord>(`fail-${outputId}`);
  }

  async close(): Promise<void> {
    await this.tier.close();
  }
}
