// Credentials for the API server from a kubeconfig: a kubeadm admin.conf, or context mk-NAME of the
// user's kubeconfig. Client certificate authentication, TLS verified against the cluster's CA.
import yaml from 'js-yaml';
import { KubeconfigError } from './errors.js';

/** Where the API server is and how mk proves who it is (PEM texts). The key is a secret: never logged. */
export interface Credentials {
  server: string;
  ca: string;
  cert: string;
  key: string;
}

type Entry = Record<string, unknown>;

function named(doc: Entry, list: 'clusters' | 'users' | 'contexts', name: unknown, field: 'cluster' | 'user' | 'context'): Entry | undefined {
  const items = doc[list];
  if (typeof name !== 'string' || !Array.isArray(items)) return undefined;
  const item = items.find((i): i is Entry => i !== null && typeof i === 'object' && (i as Entry).name === name)?.[field];
  return item !== null && typeof item === 'object' ? (item as Entry) : undefined;
}

const pem = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? Buffer.from(v, 'base64').toString('utf8') : undefined);

/**
 * The credentials of `context` (default: the current context) in a kubeconfig, YAML text or parsed.
 * `server` replaces the cluster's (a kubeadm admin.conf names a node-local address). Only that
 * context, its cluster and its user are read, so entries of other tools that mk cannot read do not
 * matter. `where` names the file in messages (default "the kubeconfig").
 */
export function kubeconfigCredentials(source: unknown, opts: { context?: string; server?: string; where?: string } = {}): Credentials {
  const where = opts.where ?? 'the kubeconfig';
  const doc = typeof source === 'string' ? loadYaml(source, where) : source;
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new KubeconfigError(`${where} is not a kubeconfig (not a YAML mapping)`);
  const entries = doc as Entry;
  const name = opts.context ?? entries['current-context'];
  if (typeof name !== 'string' || name === '') throw new KubeconfigError(`${where} has no current context`);
  const context = named(entries, 'contexts', name, 'context');
  const cluster = context && named(entries, 'clusters', context.cluster, 'cluster');
  const user = context && named(entries, 'users', context.user, 'user');
  if (!cluster || !user) throw new KubeconfigError(`context ${name} in ${where} is incomplete (its cluster or user entry is missing)`);
  const server = opts.server ?? cluster.server;
  if (typeof server !== 'string' || server === '') throw new KubeconfigError(`context ${name} in ${where} names no cluster server`);
  const ca = pem(cluster['certificate-authority-data']);
  if (!ca) throw new KubeconfigError(`context ${name} in ${where} has no certificate-authority-data; mk verifies the API server against the cluster's CA`);
  const cert = pem(user['client-certificate-data']);
  const key = pem(user['client-key-data']);
  if (!cert || !key) throw new KubeconfigError(`context ${name} in ${where} has no client-certificate-data and client-key-data; mk authenticates with a client certificate`);
  return { server, ca, cert, key };
}

function loadYaml(text: string, where: string): unknown {
  try {
    return yaml.load(text);
  } catch (err) {
    // js-yaml quotes the offending line, which may hold key material: only its position is kept.
    const mark = (err as { mark?: { line?: number; column?: number } }).mark;
    throw new KubeconfigError(`${where} is not valid YAML${mark?.line !== undefined ? ` (line ${mark.line + 1})` : ''}`);
  }
}
