// result.save(dir): the final model out of the cache into a folder of the user's, with
// modelcache.json describing it; never over files that are not an earlier export.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXPORT_DESCRIPTOR, Pipeline, type Pass } from '../../src/pipeline/index.js';
import { tempDir } from '../helpers.js';
import { appendPass } from './helpers.js';

const root = tempDir('modelcache-export-');
let n = 0;
const fresh = () => join(root, `d${n++}`);
writeFileSync(join(root, 'in.txt'), 'm0');

/** A folder model: model.txt plus data/weights.bin (and whatever `extra` adds). */
function folderPass(extra: Record<string, string> = {}): Pass<{ extra: Record<string, string> }> {
  return {
    type: 'Folder',
    config: { extra },
    run(input, cfg, ctx) {
      mkdirSync(join(ctx.outputDir, 'data'));
      writeFileSync(join(ctx.outputDir, 'model.txt'), readFileSync(input.path, 'utf8') + '+folder');
      writeFileSync(join(ctx.outputDir, 'data', 'weights.bin'), 'w');
      for (const [name, content] of Object.entries(cfg.extra)) writeFileSync(join(ctx.outputDir, name), content);
    },
  };
}

async function result(...passes: Pass<never>[]) {
  const p = new Pipeline({ cache: fresh() });
  for (const pass of passes) p.add(pass as Pass);
  const r = await p.run({ path: join(root, 'in.txt'), attributes: { lang: 'en' } });
  return { r, close: () => p.close() };
}

describe('PipelineResult.save', () => {
  it('writes the model and a modelcache.json with ids, the chain and the input attributes', async () => {
    const { r, close } = await result(appendPass('+a') as Pass<never>, appendPass('+b') as Pass<never>);
    const out = fresh();
    const saved = await r.save(out);
    await close();
    expect(readdirSync(out).sort()).toEqual(['model.txt', EXPORT_DESCRIPTOR]);
    expect(readFileSync(saved.path, 'utf8')).toBe('m0+a+b');
    const d = JSON.parse(readFileSync(saved.descriptor, 'utf8'));
    expect(d).toMatchObject({ format: 'modelcache-export-v1', id: r.id, kind: 'file', main: 'model.txt', input: { id: r.inputId, attributes: { lang: 'en' } } });
    expect(d.files).toEqual([{ path: 'model.txt', size: 6, hash: expect.stringMatching(/^[0-9a-f]{32}$/) }]);
    expect(d.chain).toEqual(r.passes.map((p) => ({ name: p.name, type: p.type, inputId: p.inputId, outputId: p.outputId })));
  });

  it('exports a folder model with its files at their relative paths', async () => {
    const { r, close } = await result(folderPass() as Pass<never>);
    const saved = await r.save(fresh());
    await close();
    expect(saved.path).toBe(saved.dir);
    expect(readFileSync(join(saved.dir, 'data', 'weights.bin'), 'utf8')).toBe('w');
    expect(JSON.parse(readFileSync(saved.descriptor, 'utf8')).files.map((f: { path: string }) => f.path)).toEqual(['data/weights.bin', 'model.txt']);
  });

  it('refuses a folder that is not empty and leaves it as it was', async () => {
    const { r, close } = await result(appendPass('+a') as Pass<never>);
    const out = fresh();
    mkdirSync(out);
    writeFileSync(join(out, 'notes.txt'), 'mine');
    await expect(r.save(out)).rejects.toThrow(/is not empty; set overwrite/);
    await expect(r.save(out, { overwrite: true })).rejects.toThrow(/holds files but no modelcache\.json of an earlier export; refusing to delete them/);
    await close();
    expect(readdirSync(out)).toEqual(['notes.txt']);
  });

  it('with overwrite replaces an earlier export as a whole', async () => {
    const out = fresh();
    const first = await result(folderPass() as Pass<never>);
    await first.r.save(out);
    await first.close();
    const second = await result(appendPass('+z') as Pass<never>);
    await expect(second.r.save(out)).rejects.toThrow(/not empty/);
    await second.r.save(out, { overwrite: true });
    await second.close();
    expect(readdirSync(out).sort()).toEqual(['model.txt', EXPORT_DESCRIPTOR]);
    expect(readFileSync(join(out, 'model.txt'), 'utf8')).toBe('m0+z');
    expect(readdirSync(root).filter((f) => f.includes('modelcache-partial') || f.includes('-old'))).toEqual([]);
  });

  it('creates nothing when the export fails', async () => {
    const { r, close } = await result(folderPass({ [EXPORT_DESCRIPTOR]: '{}' }) as Pass<never>);
    const out = join(fresh(), 'nested');
    await expect(r.save(out)).rejects.toThrow(/has a file named modelcache\.json/);
    await close();
    expect(existsSync(join(out, '..'))).toBe(false);
  });

  it('checks its arguments', async () => {
    const { r, close } = await result();
    await expect(r.save('')).rejects.toThrow(TypeError);
    await expect(r.save(fresh(), { overwrite: 'yes' as never })).rejects.toThrow(/options\.overwrite/);
    await close();
  });
});
