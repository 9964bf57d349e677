// The cache section of a workflow in Olive's terms, mapped onto PipelineCacheOptions:
// `cache_dir` as a folder, a blob container URL, or a list of folders and one URL (a shared cache
// then updated by default), and `cache_config { cache_dir, account_name, container_name,
// update_shared_cache, enable_shared_cache }`.
import { resolve } from 'node:path';
import type { PipelineCacheOptions, SharedTierTuning } from './location.js';
import { describeValue } from './schema.js';

/** The cache fields of a workflow (already checked against the schema). */
export interface WorkflowCacheFields {
  cache_dir?: string | string[];
  cache_config?: {
    cache_dir?: string | string[];
    account_name?: string;
    container_name?: string;
    update_shared_cache?: boolean;
    enable_shared_cache?: boolean;
  };
}

/** A problem with one field. */
export type FieldProblem = { path: string; message: string };

const CONTAINER = /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/;
const URL_HINT = 'a blob container URL https://<account>.blob.core.windows.net/<container>';

export function isUrl(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s);
}

/**
 * Why `s` is not a blob container URL, or undefined when it is one: host-style
 * (`https://<account>.blob.<endpoint suffix>/<container>[/<prefix>]`) or, for a local emulator
 * such as Azurite on a loopback address, path-style (`http://127.0.0.1:10000/<account>/<container>`).
 */
export function containerUrlProblem(s: string): string | undefined {
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return `expected ${URL_HINT} but received ${describeValue(s)}`;
  }
  const segments = url.pathname.split('/').filter(Boolean);
  const loopback = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/i.test(url.hostname);
  const hostStyle = /^[a-z0-9]{3,24}\.blob\./i.test(url.hostname);
  if (!(url.protocol === 'https:' || (url.protocol === 'http:' && loopback)) || (!hostStyle && !loopback)) {
    return `expected ${URL_HINT}${loopback ? '' : ' (https, an account host)'} but received ${describeValue(s)}`;
  }
  const container = hostStyle ? segments[0] : segments[1];
  if (!hostStyle && !/^[a-z0-9]{3,24}$/.test(segments[0] ?? '')) return `expected a local emulator URL http://127.0.0.1:<port>/<account>/<container> but received ${describeValue(s)}`;
  if (container === undefined || !CONTAINER.test(decodeURIComponent(container))) {
    return `expected ${URL_HINT}: ${container === undefined ? 'the container is missing' : `${JSON.stringify(container)} is not a container name (3-63 lowercase letters, digits and single hyphens)`}`;
  }
  return undefined;
}

/**
 * The pipeline cache options of a workflow's cache fields, relative folders resolved against
 * `base`; `localDir` replaces the workflow's local folders (its shared cache is kept).
 */
export function workflowCache(w: WorkflowCacheFields, base: string, localDir?: string, tuning?: SharedTierTuning): PipelineCacheOptions | FieldProblem {
  const cc = w.cache_config ?? {};
  if (w.cache_dir !== undefined && cc.cache_dir !== undefined) return { path: 'cache_config.cache_dir', message: 'cache_dir is given twice (at the top and in cache_config); give it once' };
  const field = w.cache_dir !== undefined ? 'cache_dir' : 'cache_config.cache_dir';
  const given = w.cache_dir ?? cc.cache_dir;
  const list = given === undefined ? [] : typeof given === 'string' ? [given] : given;
  const at = (i: number) => (typeof given === 'string' ? field : `${field}[${i}]`);
  const urls: string[] = [];
  const locals: string[] = [];
  for (const [i, d] of list.entries()) {
    if (!isUrl(d)) {
      locals.push(resolve(base, d));
      continue;
    }
    const problem = containerUrlProblem(d);
    if (problem) return { path: at(i), message: problem };
    if (urls.length > 0) return { path: at(i), message: `a second shared cache URL; give one (the first is ${urls[0]})` };
    urls.push(d);
  }
  const account = cc.account_name;
  const container = cc.container_name;
  if ((account === undefined) !== (container === undefined)) {
    return account === undefined
      ? { path: 'cache_config.account_name', message: 'missing; container_name needs the storage account_name it is in' }
      : { path: 'cache_config.container_name', message: 'missing; account_name needs the container_name of the shared cache' };
  }
  if (account !== undefined && urls.length > 0) return { path: 'cache_config.account_name', message: `the shared cache is already the URL in ${field}; give one of them` };
  const enabled = cc.enable_shared_cache ?? true;
  if (cc.enable_shared_cache === true && account === undefined && urls.length === 0) {
    return { path: 'cache_config.enable_shared_cache', message: 'true, but no shared cache is given (account_name + container_name, or a URL in cache_dir)' };
  }
  const dirs = [...(localDir !== undefined ? [resolve(localDir)] : locals), ...(enabled ? urls : [])];
  return {
    ...(dirs.length > 0 ? { dir: dirs } : {}),
    ...(enabled && account !== undefined ? { accountName: account, containerName: container } : {}),
    ...(cc.update_shared_cache !== undefined ? { updateSharedCache: cc.update_shared_cache } : {}),
    ...(tuning ? { sharedOptions: tuning } : {}),
  };
}
