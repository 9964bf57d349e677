import { afterEach, describe, expect, it } from 'vitest';
import { cpuFingerprint, parseCpuinfo, TEST_CPU_ENV } from '../../src/ort/fingerprint.js';
import { cachingSupport, canonicalOptions, conflictingOption, flattenExtra, sessionKey } from '../../src/ort/key.js';
import { ortVersion, TEST_ORT_VERSION_ENV } from '../../src/ort/runtime.js';
import { supportsCaching } from '../../src/ort/index.js';

const model = { hash: 'a'.repeat(32), size: 100, external: [] as [string, string][] };
const keyOf = (options: Record<string, unknown>, mode: 'speed' | 'size' = 'speed', format = 'auto') => sessionKey(model, options, mode, format).key;

describe('session key options', () => {
  it('leaves out options that only change how the session runs', () => {
    const base = keyOf({});
    for (const o of [
      { intraOpNumThreads: 1 },
      { interOpNumThreads: 2 },
      { executionMode: 'parallel' },
      { enableCpuMemArena: false },
      { enableMemPattern: false },
      { logSeverityLevel: 3 },
      { logId: 'x' },
      { enableProfiling: false },
      { extra: { session: { intra_op: { allow_spinning: '0' } } } },
    ]) {
      expect(keyOf(o), JSON.stringify(o)).toBe(base);
    }
  });

  it('includes options that change the optimized graph or its kernels', () => {
    const base = keyOf({});
    const keys = [
      keyOf({ graphOptimizationLevel: 'basic' }),
      keyOf({ freeDimensionOverrides: { batch: 1 } }),
      keyOf({ extra: { optimization: { disable_specified_optimizers: 'GeluFusion' } } }),
      keyOf({ extra: { 'session.disable_prepacking': '1' } }),
      keyOf({ somethingNew: 1 }),
      keyOf({}, 'size'),
    ];
    expect(new Set([base, ...keys]).size).toBe(keys.length + 1);
  });

  it('includes the entry form asked for (the form "auto" picks is recorded in the entry instead)', () => {
    const keys = [keyOf({}, 'speed', 'auto'), keyOf({}, 'speed', 'ort'), keyOf({}, 'speed', 'onnx')];
    expect(new Set(keys).size).toBe(3);
  });

  it('treats defaults as written out: no providers is cpu, no level is all', () => {
    expect(keyOf({ executionProviders: ['cpu'], graphOptimizationLevel: 'all' })).toBe(keyOf({}));
    expect(keyOf({ executionProviders: [{ name: 'cpu' }] })).toBe(keyOf({ executionProviders: ['CPU'] }));
  });

  it('distinguishes provider options', () => {
    expect(keyOf({ executionProviders: [{ name: 'cpu', useArena: false }] })).not.toBe(keyOf({ executionProviders: ['cpu'] }));
  });

  it('reads extra as onnxruntime does: nested objects are dotted keys', () => {
    expect(flattenExtra({ session: { a: '1', b: { c: '2' } }, 'x.y': '3' })).toEqual({ 'session.a': '1', 'session.b.c': '2', 'x.y': '3' });
    expect(canonicalOptions({ extra: { session: { disable_prepacking: '1' } } }).extra).toEqual({ 'session.disable_prepacking': '1' });
  });

  it('refuses options that would fight the cache', () => {
    expect(conflictingOption({ optimizedModelFilePath: '/tmp/x.onnx' })).toMatch(/optimizedModelFilePath/);
    expect(conflictingOption({ extra: { session: { save_model_format: 'ORT' } } })).toMatch(/session\.save_model_format/);
    expect(conflictingOption({ extra: { 'session.graph_optimization_level': '99' } })).toMatch(/graph_optimization_level/);
    expect(conflictingOption({ extra: { ep: { context_enable: '1' } } })).toMatch(/ep\.context_enable/);
    expect(conflictingOption({ intraOpNumThreads: 2 })).toBeUndefined();
  });
});

describe('machine and runtime in the key', () => {
  afterEach(() => {
    delete process.env[TEST_CPU_ENV];
    delete process.env[TEST_ORT_VERSION_ENV];
  });

  it('changes with the CPU fingerprint', () => {
    const a = keyOf({});
    process.env[TEST_CPU_ENV] = 'another-cpu';
    expect(keyOf({})).not.toBe(a);
  });

  it('changes with the onnxruntime version', () => {
    const a = keyOf({});
    process.env[TEST_ORT_VERSION_ENV] = '0.0.1-test';
    expect(ortVersion()).toBe('0.0.1-test');
    expect(keyOf({})).not.toBe(a);
  });

  it('reads the installed onnxruntime-node version from its package.json', async () => {
    const { createRequire } = await import('node:module');
    const pkg = createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string };
    expect(ortVersion()).toBe(pkg.version);
  });

  it('fingerprints the CPU by model name and ISA flags only', () => {
    const x86 = parseCpuinfo('processor\t: 0\nmodel name\t: Some CPU @ 3GHz\nflags\t\t: fpu sse2 avx2 fma hypervisor avx512f md_clear\n\nprocessor\t: 1\n');
    expect(x86).toEqual({ model: 'Some CPU @ 3GHz', flags: ['avx2', 'avx512f', 'fma', 'sse2'] });
    const arm = parseCpuinfo('processor\t: 0\nFeatures\t: fp asimd evtstrm aes asimddp sve\nCPU implementer\t: 0x41\nCPU part\t: 0xd0c\n');
    expect(arm).toEqual({ model: '0x41/0xd0c', flags: ['asimd', 'asimddp', 'sve'] });
    expect(cpuFingerprint()).toContain('|');
  });
});

describe('supportsCaching', () => {
  it('says yes for the CPU provider and for no list', () => {
    expect(supportsCaching()).toBe(true);
    expect(supportsCaching([])).toBe(true);
    expect(supportsCaching(['cpu', { name: 'cpu' }])).toBe(true);
  });

  it('says no for providers whose optimized graphs are device-specific, with a reason', () => {
    for (const ep of ['cuda', 'tensorrt', 'coreml', 'dml', 'webgpu', 'openvino', 'qnn', 'xnnpack', 'some-new-ep']) {
      expect(supportsCaching([ep]), ep).toBe(false);
      expect(supportsCaching([ep, 'cpu']), ep).toBe(false);
      expect(cachingSupport([{ name: ep }]).reason).toMatch(new RegExp(`'${ep}' is not cacheable: .+`));
    }
  });
});
