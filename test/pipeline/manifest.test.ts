// Output manifests come from a shared container anyone on the team can write: every field is
// checked, and a manifest that could not be materialized as a folder is refused when parsed.
import { describe, expect, it } from 'vitest';
import { CacheError } from '../../src/index.js';
import { MANIFEST_FORMAT, parseManifest, pathConflict } from '../../src/pipeline/manifest.js';

const ID = '0123456789abcdef0123456789abcdef';
const HASH = 'fedcba9876543210fedcba9876543210';

function manifest(files: { path: string; size: number }[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    format: MANIFEST_FORMAT,
    id: ID,
    kind: 'dir',
    files: files.map((f) => ({ ...f, hash: HASH })),
    size: files.reduce((n, f) => n + f.size, 0),
    attributes: {},
    run: { pass: { name: 'P', type: 'P' } },
    upload: 'u1-abc',
    created: 1_700_000_000_000,
    ...extra,
  });
}

function refusal(text: string): string {
  try {
    parseManifest(text, ID);
  } catch (err) {
    expect(err).toBeInstanceOf(CacheError);
    expect((err as CacheError).code).toBe('ERR_CORRUPT');
    return (err as Error).message;
  }
  throw new Error('the manifest was accepted');
}

describe('parseManifest', () => {
  it('accepts a directory of files in nested folders', () => {
    const m = parseManifest(manifest([{ path: 'model.onnx', size: 10 }, { path: 'data/w.bin', size: 5 }, { path: 'data/x/y.bin', size: 0 }]), ID);
    expect(m.files.map((f) => f.path)).toEqual(['model.onnx', 'data/w.bin', 'data/x/y.bin']);
    expect(m.size).toBe(15);
  });

  it('refuses a file that is also the folder of another file (a and a/b)', () => {
    expect(refusal(manifest([{ path: 'a', size: 1 }, { path: 'a/b', size: 1 }]))).toMatch(/"a" is a file and also the folder of "a\/b"/);
    expect(refusal(manifest([{ path: 'x/y/z', size: 1 }, { path: 'x/y', size: 1 }]))).toMatch(/folder of/);
  });

  it('refuses a path listed twice', () => {
    expect(refusal(manifest([{ path: 'm.onnx', size: 1 }, { path: 'm.onnx', size: 1 }]))).toMatch(/listed twice/);
  });

  it('refuses paths that differ only in case or Unicode normalization (one file on macOS and Windows)', () => {
    expect(refusal(manifest([{ path: 'Model.onnx', size: 1 }, { path: 'model.onnx', size: 1 }]))).toMatch(/differ only in case/);
    expect(refusal(manifest([{ path: 'caf\u00e9', size: 1 }, { path: 'cafe\u0301', size: 1 }]))).toMatch(/normalization/);
    expect(refusal(manifest([{ path: 'A', size: 1 }, { path: 'a/b', size: 1 }]))).toMatch(/folder of/);
  });

  it('refuses paths that leave the folder or that no file system can create', () => {
    for (const path of ['../x', '/etc/passwd', 'a//b', './a', 'a\\b', 'a\u0000b', 'tab\there', 'x'.repeat(256), '']) {
      expect(refusal(manifest([{ path, size: 1 }])), JSON.stringify(path)).toMatch(/file entry/);
    }
    expect(parseManifest(manifest([{ path: 'x'.repeat(255), size: 1 }]), ID).files).toHaveLength(1);
  });

  it('refuses file sizes that are not safe non-negative integers (1e300, -1e18, 1.5)', () => {
    for (const size of [1e300, -1e18, -1, 1.5, Number.MAX_SAFE_INTEGER + 1]) {
      expect(refusal(manifest([{ path: 'a', size }])), String(size)).toMatch(/file entry/);
    }
    expect(refusal(manifest([{ path: 'a', size: '5' as never }]))).toMatch(/file entry/);
  });

  it('refuses a total size other than the sum of the files', () => {
    expect(refusal(manifest([{ path: 'a', size: 1 }, { path: 'b', size: 2 }], { size: 4 }))).toMatch(/size 4, the files add up to 3/);
    expect(refusal(manifest([{ path: 'a', size: 1 }], { size: 1e300 }))).toMatch(/size/);
    expect(refusal(manifest([{ path: 'a', size: 1 }], { size: -1e18 }))).toMatch(/size/);
    const half = Math.floor(Number.MAX_SAFE_INTEGER / 2) + 1;
    expect(refusal(manifest([{ path: 'a', size: half }, { path: 'b', size: half }], { size: 2 * half }))).toMatch(/size/);
  });

  it('refuses a main file that is not the only file of a file model, or any main for a directory', () => {
    const one = [{ path: 'm.onnx', size: 3 }];
    expect(parseManifest(manifest(one, { kind: 'file', main: 'm.onnx' }), ID).main).toBe('m.onnx');
    expect(refusal(manifest(one, { kind: 'file', main: 'other.onnx' }))).toMatch(/main/);
    expect(refusal(manifest(one, { main: 'm.onnx' }))).toMatch(/main/);
  });

  it('refuses missing or mistyped fields', () => {
    const ok = [{ path: 'a', size: 1 }];
    expect(refusal('{"format":1')).toMatch(/not JSON/);
    expect(refusal('[]')).toMatch(/not an object/);
    expect(refusal(manifest(ok, { id: 'f'.repeat(32) }))).toMatch(/id/);
    expect(refusal(manifest(ok, { format: 2 }))).toMatch(/format/);
    expect(refusal(manifest(ok, { attributes: [] }))).toMatch(/attributes/);
    expect(refusal(manifest(ok, { run: null }))).toMatch(/run/);
    expect(refusal(manifest(ok, { run: {} }))).toMatch(/run/);
    expect(refusal(manifest(ok, { run: { pass: { name: 1, type: 'P' } } }))).toMatch(/run/);
    expect(refusal(manifest(ok, { created: 'yesterday' }))).toMatch(/created/);
    expect(refusal(manifest(ok, { upload: '../x' }))).toMatch(/upload/);
    expect(refusal(manifest(ok).replace(HASH, 'nothex'))).toMatch(/file entry/);
  });
});

describe('parseManifest of numbers JSON cannot write back', () => {
  it('refuses a number literal too large for a double (it would read as Infinity here, null in a local copy)', () => {
    expect(refusal(manifest([{ path: 'a', size: 1 }]).replace('"attributes":{}', '"attributes":{"x":1e999}'))).toMatch(/too large/);
  });

  it('reads -0 as 0, as a copy written back would', () => {
    const m = parseManifest(manifest([{ path: 'a', size: 1 }]).replace('"attributes":{}', '"attributes":{"x":-0}'), ID);
    expect(Object.is(m.attributes.x, 0)).toBe(true);
  });
});

describe('pathConflict', () => {
  it('names the first conflict of a set of paths, or none', () => {
    expect(pathConflict(['a', 'b/c', 'b/d'])).toBeUndefined();
    expect(pathConflict(['b/c', 'b'])).toMatch(/"b" is a file and also the folder of "b\/c"/);
    expect(pathConflict(['ab', 'a/b'])).toBeUndefined();
  });
});
