// What the machine contributes to a session key: the CPU (model name and the ISA flags that decide
// which kernels and layouts onnxruntime picks, e.g. NCHWc block sizes for AVX-512 vs AVX2), the
// platform and the architecture. An optimized model saved on one CPU may hold layouts that are
// wrong or slow on another, so a different CPU is a different entry.
import { readFileSync } from 'node:fs';
import { arch, cpus, platform } from 'node:os';

/** Test-only: replaces the CPU fingerprint (to prove it is part of the key). Not for production use. */
export const TEST_CPU_ENV = 'MODELCACHE_ORT_TEST_CPU';

// Flags that change what MLAS dispatches to (x86 /proc/cpuinfo "flags", arm "Features"). Other
// flags (hypervisor, bug mitigations, power management) vary between kernels on the same CPU and
// would only cause needless misses.
const ISA_FLAG = /^(sse|ssse|avx|fma|f16c|amx|vnni|bmi|popcnt|movbe|asimd|sve|sme|fp16|fphp|asimdhp|asimddp|dotprod|i8mm|bf16|neon|vfp|atomics)/;

export interface CpuInfo {
  /** "Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz", or the implementer/part on arm. */
  model: string;
  /** ISA flags, sorted. */
  flags: string[];
}

function fromProcCpuinfo(text: string): CpuInfo | undefined {
  // The first processor block describes the CPU (heterogeneous arm cores differ only in part numbers,
  // which we keep from the first block: the kernels are chosen from the common ISA).
  const block = text.split(/\n\s*\n/)[0] ?? '';
  const fields = new Map<string, string>();
  for (const line of block.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) fields.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  const flagLine = fields.get('flags') ?? fields.get('features');
  const model =
    fields.get('model name') ??
    [fields.get('cpu implementer'), fields.get('cpu part'), fields.get('cpu variant')].filter(Boolean).join('/') ??
    '';
  if (!flagLine && !model) return undefined;
  const flags = [...new Set((flagLine ?? '').split(/\s+/).filter((f) => ISA_FLAG.test(f)))].sort();
  return { model: model || (cpus()[0]?.model ?? 'unknown'), flags };
}

let cached: CpuInfo | undefined;

/** The CPU model and ISA flags of this machine (read once per process). */
export function cpuInfo(): CpuInfo {
  if (cached) return cached;
  let info: CpuInfo | undefined;
  if (platform() === 'linux') {
    try {
      info = fromProcCpuinfo(readFileSync('/proc/cpuinfo', 'utf8'));
    } catch {
      /* no procfs (containers with a restricted /proc): fall back to os.cpus() */
    }
  }
  cached = info ?? { model: cpus()[0]?.model?.trim() || 'unknown', flags: [] };
  return cached;
}

/**
 * The CPU part of a session key: model name and ISA flags. `MODELCACHE_ORT_TEST_CPU` overrides it
 * (test-only, to prove the fingerprint is in the key).
 */
export function cpuFingerprint(): string {
  const override = process.env[TEST_CPU_ENV];
  if (override) return `test:${override}`;
  const c = cpuInfo();
  return `${c.model}|${c.flags.join(',')}`;
}

/** Platform and architecture, e.g. "linux-x64". */
export function platformId(): string {
  return `${platform()}-${arch()}`;
}

/** @internal parses a /proc/cpuinfo text (exported for tests). */
export const parseCpuinfo = fromProcCpuinfo;
