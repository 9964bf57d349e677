// A read-only npm registry on 127.0.0.1 made of what this repository already installed: the
// package documents come from package-lock.json (every version it pins, with its dependency ranges,
// os/cpu and integrity), the tarballs from the npm cache that `npm ci` filled, looked up by
// integrity. A consumer install against it reaches no other host; a tarball that was never
// downloaded here (another platform's optional package) is a 404, which npm never asks for.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import cacache from 'cacache';

interface LockEntry {
  name?: string;
  version?: string;
  integrity?: string;
  link?: boolean;
  [field: string]: unknown;
}

// Manifest fields npm reads from a registry document when it builds and checks a tree.
const MANIFEST_FIELDS = [
  'dependencies', 'optionalDependencies', 'peerDependencies', 'peerDependenciesMeta', 'bin', 'engines',
  'os', 'cpu', 'libc', 'license', 'deprecated', 'hasInstallScript',
];

export interface LocalRegistry {
  url: string;
  close(): Promise<void>;
}

function packageName(lockKey: string): string {
  return lockKey.slice(lockKey.lastIndexOf('node_modules/') + 'node_modules/'.length);
}

export async function startLocalRegistry(lockFile: string, npmCacheDir: string): Promise<LocalRegistry> {
  const lock = JSON.parse(readFileSync(lockFile, 'utf8')) as { packages: Record<string, LockEntry> };
  const cas = join(npmCacheDir, '_cacache');
  const versions = new Map<string, Map<string, LockEntry>>();
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (!key.includes('node_modules/') || entry.link || !entry.version || !entry.integrity) continue;
    const name = entry.name ?? packageName(key);
    if (!versions.has(name)) versions.set(name, new Map());
    versions.get(name)!.set(entry.version, entry);
  }

  const tarballs = new Map<string, string>(); // URL path -> integrity
  let base = '';
  const documentOf = (name: string): object => {
    const byVersion = versions.get(name)!;
    const out: Record<string, object> = {};
    for (const [version, entry] of byVersion) {
      const path = `/${name}/-/${name.split('/').pop()}-${version}.tgz`;
      tarballs.set(path, entry.integrity!);
      const manifest: Record<string, unknown> = { name, version, dist: { tarball: `${base}${path}`, integrity: entry.integrity } };
      for (const f of MANIFEST_FIELDS) if (entry[f] !== undefined) manifest[f] = entry[f];
      out[version] = manifest;
    }
    const latest = [...byVersion.keys()].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).pop()!;
    return { name, 'dist-tags': { latest }, versions: out };
  };

  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const name = path.slice(1);
    if (req.method === 'GET' && versions.has(name)) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(documentOf(name)));
      return;
    }
    const integrity = tarballs.get(path);
    if (req.method === 'GET' && integrity) {
      cacache.get.byDigest(cas, integrity).then(
        (data: Buffer) => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(data),
        () => res.writeHead(404).end(),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
