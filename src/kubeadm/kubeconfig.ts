// The user's kubeconfig: mk merges one cluster/user/context named mk-<cluster> into it and removes
// only entries it owns (that name). Pure document functions, plus one I/O function that reads,
// merges and writes under a lock, atomically (temp + rename), mode 0600.
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import yaml from 'js-yaml';
import lockfile from 'proper-lockfile';
import { MkError } from '../errors.js';

export interface KubeconfigEntry {
  /** Context, cluster and user name: mk-<cluster>. */
  name: string;
  server: string;
  certificateAuthorityData: string;
  clientCertificateData: string;
  clientKeyData: string;
}

interface Named<T> {
  name: string;
  [key: string]: unknown;
  cluster?: T;
  user?: T;
  context?: T;
}

export interface KubeconfigDoc {
  apiVersion?: string;
  kind?: string;
  preferences?: unknown;
  clusters?: Array<Named<Record<string, unknown>>>;
  users?: Array<Named<Record<string, unknown>>>;
  contexts?: Array<Named<Record<string, unknown>>>;
  'current-context'?: string;
  [key: string]: unknown;
}

export function contextName(cluster: string): string {
  return `mk-${cluster}`;
}

/** The file kubectl would write: the first entry of KUBECONFIG, else ~/.kube/config. */
export function kubeconfigPath(env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  const first = (env.KUBECONFIG ?? '').split(delimiter).find((p) => p.trim() !== '');
  return first ?? join(home, '.kube', 'config');
}

function upsert<T>(list: Array<Named<T>> | undefined, item: Named<T>): Array<Named<T>> {
  const rest = (list ?? []).filter((x) => x.name !== item.name);
  return [...rest, item].sort((a, b) => a.name.localeCompare(b.name));
}

/** Adds or replaces mk's entry; other clusters, users and contexts are kept as they are. */
export function mergeEntry(doc: KubeconfigDoc | undefined, entry: KubeconfigEntry, opts: { setCurrent: boolean }): KubeconfigDoc {
  const base: KubeconfigDoc = { apiVersion: 'v1', kind: 'Config', preferences: {}, ...doc };
  const out: KubeconfigDoc = {
    ...base,
    clusters: upsert(base.clusters, {
      name: entry.name,
      cluster: { server: entry.server, 'certificate-authority-data': entry.certificateAuthorityData },
    }),
    users: upsert(base.users, {
      name: entry.name,
      user: { 'client-certificate-data': entry.clientCertificateData, 'client-key-data': entry.clientKeyData },
    }),
    contexts: upsert(base.contexts, { name: entry.name, context: { cluster: entry.name, user: entry.name } }),
  };
  if (opts.setCurrent || !base['current-context']) out['current-context'] = entry.name;
  return out;
}

/** Removes mk's entry by name; nothing else. The current context is cleared only if it was mk's. */
export function removeEntry(doc: KubeconfigDoc | undefined, name: string): KubeconfigDoc | undefined {
  if (!doc) return undefined;
  const drop = <T>(list: Array<Named<T>> | undefined) => list?.filter((x) => x.name !== name);
  const out: KubeconfigDoc = { ...doc, clusters: drop(doc.clusters), users: drop(doc.users), contexts: drop(doc.contexts) };
  if (out['current-context'] === name) delete out['current-context'];
  return out;
}

/** Reads the pieces mk needs from a kubeadm admin.conf, pointing it at `server`. */
export function entryFromAdminConf(text: string, name: string, server: string): KubeconfigEntry {
  const doc = yaml.load(text) as KubeconfigDoc;
  const cluster = doc.clusters?.[0]?.cluster;
  const user = doc.users?.[0]?.user;
  const ca = cluster?.['certificate-authority-data'];
  const cert = user?.['client-certificate-data'];
  const key = user?.['client-key-data'];
  if (typeof ca !== 'string' || typeof cert !== 'string' || typeof key !== 'string') {
    throw new MkError('admin kubeconfig lacks certificate-authority-data, client-certificate-data or client-key-data');
  }
  return { name, server, certificateAuthorityData: ca, clientCertificateData: cert, clientKeyData: key };
}

export function renderKubeconfig(doc: KubeconfigDoc): string {
  return yaml.dump(doc, { lineWidth: -1, noRefs: true });
}

async function readDoc(path: string): Promise<KubeconfigDoc | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const doc = yaml.load(text);
  if (doc === undefined || doc === null) return undefined;
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new MkError(`${path} is not a kubeconfig (not a YAML mapping); mk leaves it alone`);
  return doc as KubeconfigDoc;
}

/**
 * Read-modify-write of the kubeconfig under a lock (retried, so two mk or a kubectl
 * do not lose each other's writes), written atomically with mode 0600.
 */
export async function updateKubeconfig(path: string, change: (doc: KubeconfigDoc | undefined) => KubeconfigDoc | undefined): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const release = await lockfile.lock(path, {
    realpath: false,
    lockfilePath: `${path}.lock`,
    stale: 10_000,
    retries: { retries: 20, factor: 1.3, minTimeout: 50, maxTimeout: 1000 },
  });
  try {
    const next = change(await readDoc(path));
    if (!next) return;
    const tmp = `${path}.mk-${process.pid}.tmp`;
    await writeFile(tmp, renderKubeconfig(next), { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, path);
  } finally {
    await release();
  }
}

/** Whether the kubeconfig has mk's context `name` with a cluster entry pointing at `server`. Pure. */
export function hasEntry(doc: KubeconfigDoc | undefined, name: string, server: string): boolean {
  const ctx = doc?.contexts?.find((c) => c.name === name)?.context;
  if (!ctx || ctx.cluster !== name || ctx.user !== name) return false;
  const cluster = doc?.clusters?.find((c) => c.name === name)?.cluster;
  return cluster?.server === server && doc?.users?.some((u) => u.name === name) === true;
}

/** The kubeconfig at path, or undefined when it does not exist. */
export function readKubeconfig(path: string): Promise<KubeconfigDoc | undefined> {
  return readDoc(path);
}
