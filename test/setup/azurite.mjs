// Starts Azurite's blob service on 127.0.0.1 and a free port for one test file (or a benchmark),
// and stops it after. Never any other address. Used by test/azure, test/pipeline and bench/suites/shared.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const AZURITE_BLOB = join(require.resolve('azurite/package.json'), '..', 'dist', 'src', 'blob', 'main.js');

/** Azurite's well-known development account (public, documented by Microsoft). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** A port that was free a moment ago (bind to 0, read it, close). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts an Azurite blob service holding its data in memory. Returns { port, connectionString,
 * endpoint, containerUrl(), running, stop(), dispose() }.
 *
 * @param {{ timeoutMs?: number }} [options]
 */
export async function startAzurite(options = {}) {
  const location = mkdtempSync(join(tmpdir(), 'modelcache-azurite-'));
  const timeoutMs = options.timeoutMs ?? 30_000;
  let port;
  let child;

  const launch = async () => {
    for (let attempt = 0; ; attempt++) {
      port = await freePort();
      const args = [
        AZURITE_BLOB, '--blobHost', '127.0.0.1', '--blobPort', String(port),
        '--skipApiVersionCheck', '--loose', '--silent', '--disableTelemetry',
        '--inMemoryPersistence',
      ];
      // cwd: whatever Azurite writes beside its data stays in a temp folder.
      child = spawn(process.execPath, args, { cwd: location, stdio: ['ignore', 'pipe', 'pipe'] });
      const ready = await new Promise((resolve) => {
        let out = '';
        const timer = setTimeout(() => resolve(`no "listens" line within ${timeoutMs} ms: ${out}`), timeoutMs);
        const onData = (d) => {
          out += d;
          if (/successfully listens on/.test(out)) {
            clearTimeout(timer);
            resolve(true);
          }
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.once('exit', (code) => {
          clearTimeout(timer);
          resolve(`exited with code ${code}: ${out}`);
        });
      });
      if (ready === true) return;
      child.kill('SIGKILL');
      // Another process may have taken the port between freePort() and the bind: try a new one.
      if (attempt >= 2) throw new Error(`Azurite did not start: ${ready}`);
    }
  };

  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise((resolve) => {
      const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
      c.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      c.kill('SIGTERM');
    });
  };

  // If this process ends without dispose() (a crash, process.exit), Azurite must not outlive it.
  const reap = () => {
    child?.kill('SIGKILL');
    rmSync(location, { recursive: true, force: true });
  };
  process.once('exit', reap);
  try {
    await launch();
  } catch (err) {
    process.removeListener('exit', reap);
    reap();
    throw err;
  }
  const endpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  return {
    port,
    endpoint,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${endpoint};`,
    /** A container URL in Azurite's path style. */
    containerUrl: (container) => `${endpoint}/${container}`,
    get running() {
      return Boolean(child && child.exitCode === null && child.signalCode === null);
    },
    stop,
    /** Stops and removes the temp folder. */
    dispose: async () => {
      await stop();
      process.removeListener('exit', reap);
      rmSync(location, { recursive: true, force: true });
    },
  };
}
