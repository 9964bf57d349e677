// Where caches live by default: MODELCACHE_DIR, else the platform's per-user cache directory.
import { homedir, platform } from 'node:os';
import { join } from 'node:path';

/** `MODELCACHE_DIR`, else `~/.cache/modelcache` on Linux (honouring XDG_CACHE_HOME), `~/Library/Caches/modelcache` on macOS, `%LOCALAPPDATA%\modelcache\Cache` on Windows. */
export function defaultCacheDir(): string {
  const env = process.env.MODELCACHE_DIR;
  if (env) return env;
  switch (platform()) {
    case 'darwin':
      return join(homedir(), 'Library', 'Caches', 'modelcache');
    case 'win32':
      return join(process.env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'modelcache', 'Cache');
    default:
      return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'modelcache');
  }
}
