// Per-file Azurite: started before the file's tests, stopped after. Only files that call this pay.
import { afterAll, beforeAll } from 'vitest';
import { setLogger } from '../../src/index.js';
// @ts-expect-error: plain JS helper shared with the benchmarks
import { startAzurite } from './azurite.mjs';

export interface Azurite {
  port: number;
  endpoint: string;
  connectionString: string;
  containerUrl(container: string): string;
  readonly running: boolean;
  stop(): Promise<void>;
  dispose(): Promise<void>;
}

/** Starts Azurite for this test file; call the returned function inside tests. */
export function useAzurite(): () => Azurite {
  let az: Azurite | undefined;
  beforeAll(async () => {
    az = (await startAzurite()) as Azurite;
  }, 60_000);
  afterAll(async () => {
    await az?.dispose();
  });
  return () => {
    if (!az) throw new Error('Azurite is not running (useAzurite() must be called at the top of the file)');
    return az;
  };
}

export { startAzurite };

/** Collects modelcache warnings (instead of process warnings) until restored. */
export function captureWarnings(): { messages: string[]; codes: string[]; restore(): void } {
  const messages: string[] = [];
  const codes: string[] = [];
  setLogger({
    warn(message, code) {
      messages.push(message);
      codes.push(code);
    },
    debug() {},
  });
  return { messages, codes, restore: () => setLogger(undefined) };
}
