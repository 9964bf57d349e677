// Output descriptions come from a shared container anyone on the team can write: every field is
// checked, and an output that could not be materialized as a folder is refused when parsed.
import { describe, expect, it } from 'vitest';
import { CacheError } from '../../src/index.js';
import { OUTPUT_FORMAT, outputPathProblem, parseOutput, pathConflict } from '../../src/pipeline/manifest.js';

const ID = '0123456789abcdef0123456789abcdef';
const HASH = 'fedcba9876543210fedcba9876543210';
const RUN = { pass: { name: 'P', type: 'P', version: '1' }, outputId: ID, start: 1_700_000_000_000, durationMs: 5, host: 'h' };

function entry(files: { path: string; size: number }[], meta: Record<string, unknown> = {}) {
  return {
    key: ID,
    files: files.map((f) => ({ name: f.path, size: f.size, hash: HASH })),
    size: files.reduce((n, f) => n + f.size, 0),
    created: 1_700_000_000_000,
    meta: { format: OUTPUT_FORMAT, kind: 'dir', attributes: {}, run: RUN, ...meta },
  };
}

function refusal(e: ReturnType<typeof entry>): string {
  try {
    parseOutput(e);
  } catch (err) {
    expect(err).toBeInstanceOf(CacheError);
    expect((err as CacheError).code).toBe('ERR_CORRUPT');
    return (err as Error).message;
  }
  throw new Error('the output was accepted');
}

describe('parseOutput', () => {
  it('accepts a directory of files in nested folders', () => {
    const m = parseOutput(entry([{ path: 'model.onnx', size: 10 }, { path: 'data/w.bin', size: 5 }, { path: 'data/x/y.bin', size: 0 }]));
    expect(m.files.map((f) => f.path)).toEqual(['model.onnx', 'data/w.bin', 'data/x/y.bin']);
    expect(m).toMatchObject({ id: ID, kind: 'dir', size: 15, run: { pass: { name: 'P' }, files: m.files } });
  });

  it('refuses a file that is also the folder of another file (a and a/b)', () => {
    expect(refusal(entry([{ path: 'a', size: 1 }, { path: 'a/b', size: 1 }]))).toMatch(/"a" is a file and also the folder of "a\/b"/);
  });

  it('refuses paths that differ only in case or Unicode normalization (one file on macOS and Windows)', () => {
    expect(refusal(entry([{ path: 'Model.onnx', size: 1 }, { path: 'model.onnx', size: 1 }]))).toMatch(/differ only in case/);
    expect(refusal(entry([{ path: 'caf\u00e9', size: 1 }, { path: 'cafe\u0301', size: 1 }]))).toMatch(/normalization/);
    expect(refusal(entry([{ path: 'A', size: 1 }, { path: 'a/b', size: 1 }]))).toMatch(/folder of/);
  });

  it('refuses paths that leave the folder or that no file system can create', () => {
    for (const path of ['../x', '/etc/passwd', 'a//b', './a', 'a\\b', 'a\u0000b', 'tab\there', 'x'.repeat(256), '']) {
      expect(refusal(entry([{ path, size: 1 }])), JSON.stringify(path)).toMatch(/files: /);
    }
    expect(parseOutput(entry([{ path: 'x'.repeat(255), size: 1 }])).files).toHaveLength(1);
  });

  it('takes a file model as its main file and the external data files beside it', () => {
    const files = [{ path: 'm.onnx', size: 3 }, { path: 'm.onnx.data', size: 9 }];
    expect(parseOutput(entry(files, { kind: 'file', main: 'm.onnx' })).main).toBe('m.onnx');
    expect(refusal(entry(files, { kind: 'file', main: 'other.onnx' }))).toMatch(/main/);
    expect(refusal(entry(files, { kind: 'file' }))).toMatch(/main/);
    expect(refusal(entry(files, { main: 'm.onnx' }))).toMatch(/main/);
  });

  it('refuses missing or mistyped fields', () => {
    const ok = [{ path: 'a', size: 1 }];
    expect(refusal({ ...entry(ok), meta: undefined as never })).toMatch(/no description/);
    expect(refusal(entry(ok, { format: 1 }))).toMatch(/format 1, this modelcache reads 2/);
    expect(refusal(entry(ok, { kind: 'zip' }))).toMatch(/kind/);
    expect(refusal(entry(ok, { attributes: [] }))).toMatch(/attributes/);
    expect(refusal(entry(ok, { run: null }))).toMatch(/run/);
    expect(refusal(entry(ok, { run: {} }))).toMatch(/run/);
    expect(refusal(entry(ok, { run: { ...RUN, pass: { name: 1, type: 'P', version: '1' } } }))).toMatch(/run\.pass/);
    expect(refusal(entry(ok, { run: { ...RUN, start: 'yesterday' } }))).toMatch(/run/);
    expect(refusal(entry(ok, { run: { ...RUN, outputId: 'f'.repeat(32) } }))).toMatch(/run/);
  });
});

describe('parseOutput of numbers JSON cannot write back', () => {
  it('refuses a number too large for JSON (it would read as Infinity here, null in a local copy)', () => {
    expect(refusal(entry([{ path: 'a', size: 1 }], { attributes: { x: Infinity } }))).toMatch(/attributes\.x holds a number too large/);
  });

  it('reads -0 as 0, as a copy written back would', () => {
    const m = parseOutput(entry([{ path: 'a', size: 1 }], { attributes: { x: -0 } }));
    expect(Object.is(m.attributes.x, 0)).toBe(true);
  });
});

describe('pathConflict and outputPathProblem', () => {
  it('names the first conflict of a set of paths, or none', () => {
    expect(pathConflict(['a', 'b/c', 'b/d'])).toBeUndefined();
    expect(pathConflict(['b/c', 'b'])).toMatch(/"b" is a file and also the folder of "b\/c"/);
    expect(pathConflict(['ab', 'a/b'])).toBeUndefined();
    expect(pathConflict(['m.onnx', 'm.onnx'])).toMatch(/listed twice/);
  });

  it('also names a path that is not safe to create', () => {
    expect(outputPathProblem(['ok', '../up'])).toMatch(/"\.\.\/up" is not a relative path/);
    expect(outputPathProblem(['A.txt', 'a.txt'])).toMatch(/differ only in case/);
    expect(outputPathProblem(['model.onnx', 'data/w.bin'])).toBeUndefined();
  });
});
