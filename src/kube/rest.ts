// Plain JSON requests to the Kubernetes API with a KubeConfig's credentials. client-node 1.4's typed
// models rename and convert fields, so mk reads and writes the JSON the API server speaks.
import http from 'node:http';
import https from 'node:https';
import { ApiException, type KubeConfig } from '@kubernetes/client-node';
import { MkError } from '../errors.js';

export interface RestResponse {
  status: number;
  body: string;
}

export interface RestBody {
  contentType: string;
  text: string;
}

/** One request; resolves with any HTTP status (connection errors reject). `agent` (optional) replaces the one-off agent built from kc, e.g. to reuse connections. */
export async function kubeRequest(
  kc: KubeConfig,
  method: string,
  urlPath: string,
  body?: RestBody,
  opts: { timeoutMs?: number; signal?: AbortSignal; agent?: https.Agent } = {},
): Promise<RestResponse> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new MkError('kubeconfig has no current cluster');
  const url = new URL(server.replace(/\/$/, '') + urlPath);
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body) headers['Content-Type'] = body.contentType;
  const options: https.RequestOptions = { method, headers, ...(opts.signal ? { signal: opts.signal } : {}) };
  await kc.applyToHTTPSOptions(options);
  if (opts.agent) options.agent = opts.agent;
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'http:' ? http : https).request(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(opts.timeoutMs ?? 60_000, () => req.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(body?.text);
  });
}

/** A JSON request: the parsed body on 2xx, undefined on 404 when allowed, else ApiException { code, body }. */
export async function kubeJson<T>(
  kc: KubeConfig,
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  urlPath: string,
  opts: { body?: unknown; contentType?: string; allow404?: boolean; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<T | undefined> {
  const body = opts.body === undefined ? undefined : { contentType: opts.contentType ?? 'application/json', text: JSON.stringify(opts.body) };
  const res = await kubeRequest(kc, method, urlPath, body, { ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}), ...(opts.signal ? { signal: opts.signal } : {}) });
  if (res.status === 404 && opts.allow404) return undefined;
  if (res.status < 200 || res.status >= 300) throw new ApiException(res.status, `HTTP ${res.status} ${method} ${urlPath}`, res.body, {});
  return (res.body ? JSON.parse(res.body) : {}) as T;
}

/** The API server's message of an ApiException, or the error's message. */
export function apiMessage(err: unknown): string {
  if (err instanceof ApiException) {
    try {
      const parsed = (typeof err.body === 'string' ? JSON.parse(err.body) : err.body) as { message?: string } | undefined;
      if (parsed?.message) return parsed.message;
    } catch {
      /* not JSON */
    }
    return `HTTP ${err.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}
