// Images from a Docker engine, for loading into nodes: inspect, ask a registry (without pulling),
// pull, and `docker save` as a stream (GET /images/get), never written to disk on this side.
import type { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { DriverError } from '../../errors.js';
import type { ImageSource, SourceImage } from '../types.js';
import { dockerMessage, isNotFound, wrapDockerError } from './docker-errors.js';
import type { DockerLog } from './node-handle.js';

/** How long asking a registry about a reference may take before it counts as not pullable. */
const REGISTRY_TIMEOUT_MS = 10_000;

interface Modem {
  dial(opts: Record<string, unknown>, callback: (err: unknown, data: unknown) => void): void;
  followProgress(stream: Readable, onFinished: (err: unknown, output: unknown[]) => void): void;
}

const bounded = (signal: AbortSignal | undefined, ms: number): AbortSignal => (signal ? AbortSignal.any([signal, AbortSignal.timeout(ms)]) : AbortSignal.timeout(ms));

export class DockerImageSource implements ImageSource {
  constructor(
    private readonly docker: Dockerode,
    readonly description: string,
    private readonly log: DockerLog = () => {},
  ) {}

  private get modem(): Modem {
    return this.docker.modem as unknown as Modem;
  }

  /** One GET, cancelled by `signal` (dockerode's image calls take none); `query` goes after a path ending in "?". */
  private dial<T>(path: string, statusCodes: Record<number, true | string>, signal: AbortSignal | undefined, query?: Record<string, unknown>): Promise<T> {
    const opts = { path, method: 'GET', statusCodes: { 500: 'server error', ...statusCodes }, isStream: query !== undefined, options: query ?? {}, ...(signal ? { abortSignal: signal } : {}) };
    return new Promise((resolve, reject) => this.modem.dial(opts, (err, data) => (err ? reject(err) : resolve(data as T))));
  }

  async inspect(ref: string, signal?: AbortSignal): Promise<SourceImage | undefined> {
    try {
      const info = await this.dial<{ Id: string; Size: number }>(`/images/${ref}/json`, { 200: true, 404: 'no such image' }, signal);
      return { ref, id: info.Id, size: info.Size };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw wrapDockerError(`inspect image ${ref}`, err);
    }
  }

  async pullable(ref: string, signal?: AbortSignal): Promise<string | undefined> {
    const abortSignal = bounded(signal, REGISTRY_TIMEOUT_MS);
    try {
      await this.dial(`/distribution/${ref}/json`, { 200: true, 401: 'unauthorized', 403: 'forbidden', 404: 'not found' }, abortSignal);
      return undefined;
    } catch (err) {
      signal?.throwIfAborted();
      return abortSignal.aborted ? `no registry answered within ${REGISTRY_TIMEOUT_MS / 1000} s` : dockerMessage(err);
    }
  }

  async pull(ref: string, signal?: AbortSignal): Promise<void> {
    const started = Date.now();
    try {
      const stream = (await this.docker.pull(ref, signal ? { abortSignal: signal } : {})) as Readable;
      const events = await new Promise<unknown[]>((resolve, reject) => this.modem.followProgress(stream, (err, output) => (err ? reject(err) : resolve(output))));
      // The engine reports a failed pull as an event of a stream that ended fine.
      const failed = events.find((e): e is { error: string } => typeof (e as { error?: unknown }).error === 'string');
      if (failed) throw new DriverError(`docker: pull ${ref}: ${failed.error}`);
    } catch (err) {
      throw wrapDockerError(`pull ${ref}`, err);
    }
    this.log('docker pull', { image: ref, ms: Date.now() - started });
  }

  async save(refs: readonly string[], signal?: AbortSignal): Promise<Readable> {
    this.log('docker save', { images: refs.length });
    try {
      return await this.dial<Readable>('/images/get?', { 200: true }, signal, { names: [...refs] });
    } catch (err) {
      throw wrapDockerError(`save ${refs.join(' ')}`, err);
    }
  }
}

/**
 * The Docker engine of this machine, found as the docker CLI finds it (DOCKER_HOST, contexts, the
 * local socket): where an ssh cluster's images come from. The client is made on first use.
 */
export function localImageSource(log?: DockerLog): ImageSource {
  let source: Promise<DockerImageSource> | undefined;
  const engine = (): Promise<DockerImageSource> =>
    (source ??= (async () => {
      const [{ loadDockerode }, { homedir }, { readFileIfExists, resolveDockerEndpoint }] = await Promise.all([import('./dockerode.js'), import('node:os'), import('./endpoint.js')]);
      const endpoint = resolveDockerEndpoint({ options: {}, env: process.env, homeDir: homedir(), readFile: readFileIfExists });
      return new DockerImageSource(new (loadDockerode())(endpoint.dockerOptions), `the Docker engine at ${endpoint.host}`, log);
    })());
  return {
    description: 'the Docker engine of this machine',
    inspect: async (ref, signal) => (await engine()).inspect(ref, signal),
    pullable: async (ref, signal) => (await engine()).pullable(ref, signal),
    pull: async (ref, signal) => (await engine()).pull(ref, signal),
    save: async (refs, signal) => (await engine()).save(refs, signal),
  };
}
