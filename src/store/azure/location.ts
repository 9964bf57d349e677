// Where a shared tier's container is and how to sign in: container URLs (host-style and
// Azurite's path-style), connection strings, account names, and the environment's
// AZURE_STORAGE_CONNECTION_STRING; the SDK and @azure/identity are loaded on first use only.
import { CacheError, invalidType } from '../../errors.js';
// Types only: erased from the emitted JS, so the SDK stays an optional peer.
import type { ContainerClient, StoragePipelineOptions } from '@azure/storage-blob';

/** The shape of an `@azure/identity` credential (kept structural so the SDK's types stay optional). */
export interface TokenCredentialLike {
  /**
   * An access token for `scopes` (the storage scope `https://storage.azure.com/.default`), or null
   * when none can be had; called by the SDK before requests, and again when a token expires.
   */
  getToken(scopes: string | string[], options?: unknown): Promise<{
    /** The bearer token sent with requests. */
    token: string;
    /** When the token expires, ms since epoch. */
    expiresOnTimestamp: number;
  } | null>;
}

/** Where a container is: give one of `containerUrl`, `connectionString` + `containerName`, or `accountName` + `containerName`. */
export interface LocationOptions {
  /** `https://<account>.blob.core.windows.net/<container>[/<prefix>]` (a SAS query string is used as is). */
  containerUrl?: string;
  /** Storage account name; with `containerName`. */
  accountName?: string;
  /**
   * The container (3-63 lowercase letters, digits and single hyphens; a TypeError otherwise), with
   * `connectionString` or `accountName`. Created on the first upload if it does not exist.
   */
  containerName?: string;
  /**
   * A storage connection string (with `containerName`). Default: `AZURE_STORAGE_CONNECTION_STRING`
   * when it names the same account as `containerUrl` / `accountName` (this is how Azurite is reached
   * with the URL and account forms), or when no account is given at all.
   */
  connectionString?: string;
  /** Blob endpoint for the `accountName` form (default `https://<account>.blob.core.windows.net`). */
  blobEndpoint?: string;
  /** Token credential for URL and account forms. Default: `DefaultAzureCredential` from `@azure/identity`. */
  credential?: TokenCredentialLike;
}

export type Sdk = typeof import('@azure/storage-blob');

let sdkPromise: Promise<Sdk> | undefined;
/** Loads `@azure/storage-blob` once; a clear error when it is not installed. */
export function loadSdk(): Promise<Sdk> {
  sdkPromise ??= import('@azure/storage-blob').catch((err: unknown) => {
    sdkPromise = undefined;
    throw new CacheError('ERR_TIER', 'AzureBlobTier needs the optional peer dependency @azure/storage-blob: npm install @azure/storage-blob', { cause: err });
  });
  return sdkPromise;
}

async function defaultCredential(): Promise<TokenCredentialLike> {
  try {
    const identity = await import('@azure/identity');
    return new identity.DefaultAzureCredential();
  } catch (err) {
    throw new CacheError('ERR_TIER', 'AzureBlobTier without a credential or connection string needs @azure/identity (DefaultAzureCredential): npm install @azure/identity', { cause: err });
  }
}

/** The fields of a storage connection string, by lower-cased name. */
export function parseConnectionString(cs: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of cs.split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim().toLowerCase()] = part.slice(i + 1).trim();
  }
  if (out.usedevelopmentstorage === 'true') out.accountname ??= 'devstoreaccount1';
  return out;
}

/** A container URL split into account, container and prefix (host-style or path-style, as Azurite's). */
export function parseContainerUrl(containerUrl: string): { account: string; container: string; prefix: string; endpoint: string; sas: string } {
  let url: URL;
  try {
    url = new URL(containerUrl);
  } catch {
    throw invalidType('options.containerUrl', 'an https://<account>.blob.core.windows.net/<container> URL', containerUrl);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw invalidType('options.containerUrl', 'an https://<account>.blob.core.windows.net/<container> URL', containerUrl);
  }
  const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const hostAccount = /^([a-z0-9]{3,24})\.blob\./i.exec(url.hostname)?.[1];
  // Host-style (<account>.blob.<suffix>) or path-style (http://127.0.0.1:10000/<account>/<container>).
  const account = hostAccount ?? segments.shift() ?? '';
  const container = segments.shift() ?? '';
  if (!account || !container) {
    throw invalidType('options.containerUrl', 'a URL naming an account and a container (https://<account>.blob.core.windows.net/<container>)', containerUrl);
  }
  const endpoint = hostAccount ? `${url.protocol}//${url.host}` : `${url.protocol}//${url.host}/${account}`;
  return { account: account.toLowerCase(), container, prefix: segments.length ? normalizePrefix('options.containerUrl', segments.join('/')) : '', endpoint, sas: url.search };
}

/**
 * A folder inside the container: '/'-separated segments of [A-Za-z0-9._-] starting with a letter
 * or digit (so never '.' or '..': a prefix cannot reach outside its container's folder).
 */
export function normalizePrefix(name: string, p: unknown): string {
  if (p === undefined || p === '') return '';
  const folder = typeof p === 'string' && p.endsWith('/') ? p.slice(0, -1) : p;
  if (typeof folder !== 'string' || folder.length > 512 || !folder.split('/').every((s) => /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(s))) {
    throw invalidType(name, "a blob folder such as 'team-a/' (segments of letters, digits, '.', '_' and '-', each starting with a letter or digit)", p);
  }
  return `${folder}/`;
}

/** Where the container is and how to sign in, resolved from the options and the environment. */
export interface Target {
  describe: string;
  connect(sdk: Sdk, pipeline: StoragePipelineOptions): Promise<ContainerClient>;
}

export function resolveTarget(o: LocationOptions): { target: Target; urlPrefix: string } {
  const env = process.env.AZURE_STORAGE_CONNECTION_STRING;
  const viaConnectionString = (cs: string, container: string, source: string): Target => ({
    describe: `container ${container} (${source})`,
    connect: async (sdk, pipeline) => sdk.BlobServiceClient.fromConnectionString(cs, pipeline).getContainerClient(container),
  });
  const viaUrl = (url: string, container: string): Target => ({
    describe: `container ${container} at ${url.replace(/\?.*$/, '')}`,
    connect: async (sdk, pipeline) => {
      const hasSas = /[?&]sig=/.test(url);
      const credential = hasSas ? new sdk.AnonymousCredential() : (o.credential ?? (await defaultCredential()));
      return new sdk.ContainerClient(url, credential as never, pipeline);
    },
  });
  const matchesEnv = (account: string) => env !== undefined && parseConnectionString(env).accountname?.toLowerCase() === account.toLowerCase();

  if (o.containerUrl !== undefined) {
    if (typeof o.containerUrl !== 'string') throw invalidType('options.containerUrl', 'string', o.containerUrl);
    if (o.accountName !== undefined || o.containerName !== undefined || o.connectionString !== undefined) {
      throw invalidType('options', 'containerUrl alone, not with accountName, containerName or connectionString', 'several locations');
    }
    const u = parseContainerUrl(o.containerUrl);
    if (!o.credential && !u.sas && matchesEnv(u.account)) return { target: viaConnectionString(env!, u.container, 'AZURE_STORAGE_CONNECTION_STRING'), urlPrefix: u.prefix };
    const base = `${u.endpoint}/${encodeURIComponent(u.container)}${u.sas}`;
    return { target: viaUrl(base, u.container), urlPrefix: u.prefix };
  }
  if (typeof o.containerName !== 'string' || !/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/.test(o.containerName)) {
    throw invalidType('options.containerName', 'a container name (3-63 lowercase letters, digits and single hyphens)', o.containerName);
  }
  const container = o.containerName;
  if (o.connectionString !== undefined) {
    if (typeof o.connectionString !== 'string' || !o.connectionString.includes('=')) throw invalidType('options.connectionString', 'a storage connection string', '(redacted)');
    return { target: viaConnectionString(o.connectionString, container, 'connection string'), urlPrefix: '' };
  }
  if (o.accountName !== undefined) {
    if (typeof o.accountName !== 'string' || !/^[a-z0-9]{3,24}$/.test(o.accountName)) throw invalidType('options.accountName', 'a storage account name (3-24 lowercase letters and digits)', o.accountName);
    if (o.blobEndpoint !== undefined && typeof o.blobEndpoint !== 'string') throw invalidType('options.blobEndpoint', 'URL string', o.blobEndpoint);
    if (!o.credential && o.blobEndpoint === undefined && matchesEnv(o.accountName)) {
      return { target: viaConnectionString(env!, container, 'AZURE_STORAGE_CONNECTION_STRING'), urlPrefix: '' };
    }
    const endpoint = (o.blobEndpoint ?? `https://${o.accountName}.blob.core.windows.net`).replace(/\/+$/, '');
    return { target: viaUrl(`${endpoint}/${encodeURIComponent(container)}`, container), urlPrefix: '' };
  }
  if (env !== undefined) return { target: viaConnectionString(env, container, 'AZURE_STORAGE_CONNECTION_STRING'), urlPrefix: '' };
  throw invalidType('options', 'one of containerUrl, connectionString + containerName, accountName + containerName (or AZURE_STORAGE_CONNECTION_STRING)', o);
}

