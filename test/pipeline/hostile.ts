// Shared entries as a hostile (or buggy) teammate could publish them: files under an upload
// folder and a manifest that says whatever the test wants, written blob by blob.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { treeHash } from '../../src/index.js';
import { OUTPUT_FORMAT } from '../../src/pipeline/manifest.js';
import type { AzureBlobTier } from '../../src/pipeline/index.js';
import { encodeManifest } from '../../src/store/manifest.js';

export interface RawFile {
  path: string;
  content: string;
  /** The hash the manifest records instead of the content's. */
  claimed?: string;
}

let n = 0;

/** Publishes pipeline output `id` with `files` (written under `scratch` first); `kind` 'file' makes the first file the model. */
export async function publishRaw(tier: AzureBlobTier, scratch: string, id: string, files: RawFile[], kind: 'file' | 'dir' = 'dir'): Promise<void> {
  const local = join(scratch, `raw-${process.pid}-${n++}`);
  mkdirSync(local, { recursive: true });
  const upload = `u${n}-raw`;
  for (const [i, f] of files.entries()) {
    const p = join(local, String(i));
    writeFileSync(p, f.content);
    expect(await tier.uploadFile(`entries/pipeline.output/f/${id}/${upload}/${f.path}`, p, { hash: treeHash(f.content) })).toBe('created');
  }
  const meta = {
    format: OUTPUT_FORMAT, kind, ...(kind === 'file' ? { main: files[0].path } : {}), attributes: {},
    run: { pass: { name: 'Hostile', type: 'Hostile', version: '1' }, outputId: id, start: Date.now(), durationMs: 1, host: 'elsewhere' },
  };
  const entry = {
    namespace: 'pipeline.output', key: id, kind: 'Hostile', meta, created: Date.now(), encrypted: false,
    size: files.reduce((s, f) => s + Buffer.byteLength(f.content), 0),
    files: files.map((f) => ({ name: f.path, size: Buffer.byteLength(f.content), hash: f.claimed ?? treeHash(f.content) })),
  };
  expect(await tier.writeBlob(tier.manifestName(id, 'pipeline.output'), encodeManifest(entry, { upload }))).toBe('created');
}
