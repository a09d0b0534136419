// A small read-only client of the API server for planning, without @kubernetes/client-node (loading
// it takes most of a second, more than a no-op apply spends on everything else). TLS material comes
// from a kubeadm admin.conf; connections are kept alive for the session; discovery is read once per
// apiVersion; objects are read as the JSON the API server sends.
import https from 'node:https';
import type { KubernetesObject, V1ConfigMap } from '@kubernetes/client-node';
import pRetry from 'p-retry';
import { MkError } from '../errors.js';
import { INVENTORY_NAMESPACE, LABEL_INVENTORY } from './inventory.js';
import type { ObjectReader } from './installed.js';
import { LABEL_CLUSTER } from './labels.js';
import type { ObjectRef } from './types.js';

/** Where the API server is and the admin credentials for it (PEM). */
export interface ApiTarget {
  server: string;
  ca: string;
  cert: string;
  key: string;
}

/** An HTTP status other than 2xx and 404, or a request that failed. */
export class ApiReadError extends MkError {
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

interface Resource {
  kind: string;
  name: string;
  namespaced: boolean;
}

const TRANSIENT = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

function isTransient(err: unknown): boolean {
  if (err instanceof ApiReadError) return err.status === undefined ? TRANSIENT.has(((err.cause ?? {}) as { code?: string }).code ?? '') : err.status === 429 || err.status >= 500;
  return false;
}

/** The API server's message in an error body, or the status. */
function messageOf(status: number, body: string): string {
  try {
    const m = (JSON.parse(body) as { message?: unknown }).message;
    if (typeof m === 'string' && m) return m;
  } catch {
    /* not JSON */
  }
  return `HTTP ${status}`;
}

export class ApiReader implements ObjectReader {
  private readonly agent: https.Agent;
  private readonly discovery = new Map<string, Promise<Resource[] | undefined>>();

  constructor(
    private readonly target: ApiTarget,
    private readonly opts: { signal?: AbortSignal; timeoutMs?: number; retries?: number } = {},
  ) {
    this.agent = new https.Agent({ ca: target.ca, cert: target.cert, key: target.key, keepAlive: true, maxSockets: 4 });
  }

  /** GET urlPath: the parsed body, or undefined on 404. Transient failures are retried (default once). */
  async getJson<T>(urlPath: string): Promise<T | undefined> {
    return pRetry(() => this.once<T>(urlPath), {
      retries: this.opts.retries ?? 1,
      minTimeout: 200,
      maxTimeout: 1000,
      ...(this.opts.signal ? { signal: this.opts.signal } : {}),
      shouldRetry: ({ error }) => isTransient(error),
    });
  }

  private once<T>(urlPath: string): Promise<T | undefined> {
    const url = new URL(this.target.server.replace(/\/$/, '') + urlPath);
    return new Promise((resolve, reject) => {
      const req = https.request(url, { method: 'GET', agent: this.agent, headers: { Accept: 'application/json' }, ...(this.opts.signal ? { signal: this.opts.signal } : {}) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => reject(new ApiReadError(`GET ${urlPath}: ${err.message}`, undefined, { cause: err })));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const body = Buffer.concat(chunks).toString('utf8');
          if (status === 404) resolve(undefined);
          else if (status < 200 || status >= 300) reject(new ApiReadError(`GET ${urlPath}: ${messageOf(status, body)}`, status));
          else {
            try {
              resolve(JSON.parse(body) as T);
            } catch (err) {
              reject(new ApiReadError(`GET ${urlPath}: the answer is not JSON`, status, { cause: err }));
            }
          }
        });
      });
      req.setTimeout(this.opts.timeoutMs ?? 10_000, () => req.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' })));
      req.on('error', (err) => reject(new ApiReadError(`GET ${urlPath}: ${err.message}`, undefined, { cause: err })));
      req.end();
    });
  }

  private static base(apiVersion: string): string {
    return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  }

  /** The resource serving kind in apiVersion (not a subresource), or undefined. Discovery is read once per apiVersion for the reader's life (one observation). */
  async resource(apiVersion: string, kind: string): Promise<Resource | undefined> {
    let list = this.discovery.get(apiVersion);
    if (!list) {
      list = this.getJson<{ resources?: Resource[] }>(ApiReader.base(apiVersion)).then((l) => l?.resources);
      this.discovery.set(apiVersion, list);
    }
    return (await list)?.find((r) => r.kind === kind && !r.name.includes('/'));
  }

  async get(ref: ObjectRef): Promise<KubernetesObject | undefined> {
    const r = await this.resource(ref.apiVersion, ref.kind);
    if (!r) return undefined; // the kind is not served (its CRD is gone): the object cannot exist
    const ns = r.namespaced ? `/namespaces/${encodeURIComponent(ref.namespace ?? 'default')}` : '';
    return this.getJson<KubernetesObject>(`${ApiReader.base(ref.apiVersion)}${ns}/${r.name}/${encodeURIComponent(ref.name)}`);
  }

  async listInventories(cluster: string): Promise<V1ConfigMap[]> {
    const selector = encodeURIComponent(`${LABEL_CLUSTER}=${cluster},${LABEL_INVENTORY}=true`);
    return (await this.getJson<{ items?: V1ConfigMap[] }>(`/api/v1/namespaces/${INVENTORY_NAMESPACE}/configmaps?labelSelector=${selector}`))?.items ?? [];
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }
}
