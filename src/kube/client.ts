// The one client of the Kubernetes API in mk: JSON over node:https, TLS verified against the
// cluster's CA, a client certificate for identity. Each client keeps its connections alive (idle
// ones do not keep the process running) and reads discovery once per apiVersion. Objects are sent
// and read as the JSON the API server speaks (no typed models that rename fields), server-side
// apply as field manager "mk". It does not load @kubernetes/client-node: only port-forwarding does,
// when asked for.
import https from 'node:https';
import { createSecureContext } from 'node:tls';
import { KubeApiError, KubeConnectionError, KubeconfigError } from './errors.js';
import type { Credentials } from './kubeconfig.js';
import type { PortForwarder } from './port-forward.js';
import { withRetry } from './retry.js';
import type { ApiResource, KubeObject, ObjectRef } from './types.js';

/** The server-side apply field manager. */
export const FIELD_MANAGER = 'mk';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface ClientOptions {
  /** Cancels every request of the client. */
  signal?: AbortSignal;
  /** How long a request may wait for the API server without any progress. Default 60 s. */
  timeoutMs?: number;
  /** Further attempts after a transient failure (429, 5xx, connection errors), with backoff. Default 0. */
  retries?: number;
  /** Told about each retry (what failed and why; never a body). */
  onRetry?: (message: string) => void;
}

export interface RequestOptions {
  /** Sent as JSON (a string as it is). */
  body?: unknown;
  /** Default application/json. */
  contentType?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
  retries?: number;
}

export interface Response {
  status: number;
  body: string;
}

/** Connections and discovery, shared by a client and the clients made from it with with(). */
interface Pool {
  agent?: https.Agent;
  discovery: Map<string, Promise<ApiResource[]>>;
}

const DEFAULT_TIMEOUT_MS = 60_000;
/** Idle kept-alive connections are closed after this long. */
const IDLE_CONNECTION_MS = 15_000;

/** /api/v1 or /apis/GROUP/VERSION. */
function apiVersionPath(apiVersion: string): string {
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

const query = (params: Record<string, string | undefined>): string => {
  const q = Object.entries(params)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
    .join('&');
  return q ? `?${q}` : '';
};

export class KubeClient {
  /** The API server's URL (no trailing slash). */
  readonly server: string;
  /** The cluster's CA certificate (PEM): public, e.g. for the hash kubeadm join pins. */
  readonly ca: string;
  readonly #credentials: Credentials;
  readonly #options: ClientOptions;
  #pool: Pool = { discovery: new Map() };

  constructor(credentials: Credentials, options: ClientOptions = {}) {
    let url: URL | undefined;
    try {
      url = new URL(credentials.server);
    } catch {
      /* reported below */
    }
    if (url?.protocol !== 'https:') throw new KubeconfigError(`the API server address ${JSON.stringify(credentials.server)} is not an https:// URL`);
    this.server = credentials.server.replace(/\/+$/, '');
    this.ca = credentials.ca;
    this.#credentials = credentials;
    this.#options = options;
  }

  /** A client over the same connections and discovery cache with other defaults (options left undefined are kept; signals add up). */
  with(options: ClientOptions): KubeClient {
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as ClientOptions;
    const view = new KubeClient(this.#credentials, { ...this.#options, ...given, signal: this.#signal(options.signal) });
    view.#pool = this.#pool;
    return view;
  }

  /**
   * One request, one attempt: resolves with any HTTP status. Rejects with KubeConnectionError when
   * there is no answer, or with the signal's reason when it aborts.
   */
  request(method: Method, path: string, opts: RequestOptions = {}): Promise<Response> {
    const signal = this.#signal(opts.signal);
    const timeoutMs = opts.timeoutMs ?? this.#options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const body = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = opts.contentType ?? 'application/json';
    return new Promise((resolve, reject) => {
      signal?.throwIfAborted();
      const fail = (err: Error) => reject(signal?.aborted ? signal.reason : new KubeConnectionError(err.message, { cause: err }));
      const req = https.request(new URL(this.server + path), { method, headers, agent: this.#agent(), ...(signal ? { signal } : {}) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', fail);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      });
      req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' })));
      req.on('error', fail);
      req.end(body);
    });
  }

  /**
   * A JSON request: the parsed answer on 2xx; with allow404, undefined on 404. Any other status
   * rejects with KubeApiError. Transient failures are retried (options.retries).
   */
  json<T>(method: Method, path: string, opts: RequestOptions & { allow404: true }): Promise<T | undefined>;
  json<T>(method: Method, path: string, opts?: RequestOptions & { allow404?: false }): Promise<T>;
  json<T>(method: Method, path: string, opts: RequestOptions & { allow404?: boolean } = {}): Promise<T | undefined> {
    const signal = this.#signal(opts.signal);
    return withRetry(
      async () => {
        const res = await this.request(method, path, opts);
        if (res.status === 404 && opts.allow404) return undefined;
        if (res.status < 200 || res.status >= 300) throw KubeApiError.fromResponse(method, path, res.status, res.body);
        if (!res.body) return {} as T;
        try {
          return JSON.parse(res.body) as T;
        } catch {
          throw new KubeApiError(res.status, method, path, undefined, `the answer to ${method} ${path} is not JSON`);
        }
      },
      {
        retries: opts.retries ?? this.#options.retries ?? 0,
        ...(signal ? { signal } : {}),
        onRetry: (err, left) => this.#options.onRetry?.(`${method} ${path}: ${err instanceof Error ? err.message : String(err)}; retrying (${left} left)`),
      },
    );
  }

  /**
   * The resource serving kind in apiVersion, or undefined when the API server does not serve it.
   * Discovery is read once per apiVersion (concurrent callers share the request); a kind missing
   * from a list read earlier is asked again, as its CRD may have been established since.
   */
  async resource(apiVersion: string, kind: string): Promise<ApiResource | undefined> {
    const find = (list: ApiResource[]) => list.find((r) => r.kind === kind && !r.name.includes('/'));
    const cached = this.#pool.discovery.get(apiVersion);
    const hit = cached && find(await cached);
    if (hit) return hit;
    const newer = this.#pool.discovery.get(apiVersion);
    return find(await (newer && newer !== cached ? newer : this.#discover(apiVersion)));
  }

  #discover(apiVersion: string): Promise<ApiResource[]> {
    const list = this.json<{ resources?: ApiResource[] }>('GET', apiVersionPath(apiVersion), { allow404: true }).then((l) => l?.resources ?? []);
    this.#pool.discovery.set(apiVersion, list);
    list.catch(() => {
      if (this.#pool.discovery.get(apiVersion) === list) this.#pool.discovery.delete(apiVersion);
    });
    return list;
  }

  /** The URL path of an object, or undefined when its kind is not served. A namespaced object without a namespace is in "default". */
  async objectPath(ref: ObjectRef): Promise<string | undefined> {
    const r = await this.resource(ref.apiVersion, ref.kind);
    if (!r) return undefined;
    const ns = r.namespaced ? `/namespaces/${encodeURIComponent(ref.namespace ?? 'default')}` : '';
    return `${apiVersionPath(ref.apiVersion)}${ns}/${r.name}/${encodeURIComponent(ref.name)}`;
  }

  /** The object as JSON, or undefined when it does not exist (or its kind is not served). */
  async read<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T | undefined> {
    const path = await this.objectPath(ref);
    return path === undefined ? undefined : this.json<T>('GET', path, { allow404: true });
  }

  /** Server-side apply of obj exactly as given, as field manager "mk"; force takes over fields other managers own. */
  async apply<T extends KubeObject = KubeObject>(obj: KubeObject & ObjectRefFields, opts: { force?: boolean } = {}): Promise<T> {
    const ref = { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}) };
    const path = await this.objectPath(ref);
    if (path === undefined) throw new KubeApiError(404, 'PATCH', apiVersionPath(ref.apiVersion), 'NotFound', `the API server does not serve ${ref.apiVersion} ${ref.kind}`);
    return this.json<T>('PATCH', path + query({ fieldManager: FIELD_MANAGER, force: opts.force ? 'true' : undefined }), {
      body: obj,
      contentType: 'application/apply-patch+yaml',
    });
  }

  /** Deletes the object (dependents in the background); false when it did not exist. */
  async delete(ref: ObjectRef): Promise<boolean> {
    const path = await this.objectPath(ref);
    if (path === undefined) return false;
    return (await this.json('DELETE', path + query({ propagationPolicy: 'Background' }), { allow404: true })) !== undefined;
  }

  /** The objects of a kind (in one namespace, or all), optionally selected; none when the kind is not served. */
  async list<T extends KubeObject = KubeObject>(apiVersion: string, kind: string, opts: { namespace?: string; labelSelector?: string; fieldSelector?: string } = {}): Promise<T[]> {
    const r = await this.resource(apiVersion, kind);
    if (!r) return [];
    const ns = r.namespaced && opts.namespace ? `/namespaces/${encodeURIComponent(opts.namespace)}` : '';
    const path = `${apiVersionPath(apiVersion)}${ns}/${r.name}${query({ labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector })}`;
    return (await this.json<{ items?: T[] }>('GET', path)).items ?? [];
  }

  /** Streams to pods' ports through the API server (WebSocket; loads @kubernetes/client-node on first use). */
  async portForwarder(opts: { timeoutMs?: number } = {}): Promise<PortForwarder> {
    const { portForwarder } = await import('./port-forward.js');
    return portForwarder(this.#credentials, opts);
  }

  /** Closes the kept-alive connections (of every client made with with() too). */
  close(): void {
    this.#pool.agent?.destroy();
    this.#pool.agent = undefined;
  }

  #signal(extra: AbortSignal | undefined): AbortSignal | undefined {
    const own = this.#options.signal;
    return own && extra ? AbortSignal.any([own, extra]) : (own ?? extra);
  }

  #agent(): https.Agent {
    if (!this.#pool.agent) {
      let secureContext;
      try {
        secureContext = createSecureContext({ ca: this.#credentials.ca, cert: this.#credentials.cert, key: this.#credentials.key });
      } catch (err) {
        throw new KubeconfigError(`the CA, client certificate or client key for ${this.server} is not usable PEM (${(err as Error).message})`);
      }
      this.#pool.agent = new https.Agent({ secureContext, keepAlive: true, maxSockets: 4, timeout: IDLE_CONNECTION_MS });
    }
    return this.#pool.agent;
  }
}

/** What apply needs of an object: apiVersion, kind, metadata.name. */
interface ObjectRefFields {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
}
