// `mk tunnel`'s engine: poll the cluster's LoadBalancer Services, keep one 127.0.0.1 listener per
// TCP Service port, and carry each accepted connection to a ready pod of the Service through the
// API server's port-forward. It needs nothing but the API server: no route to node or pod
// addresses, and it writes nothing into the cluster.
import { createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeClient, PortForwarder } from '../kube/index.js';
import type { ServiceJson } from './loadbalancers.js';
import {
  bindNote,
  chooseLocalPort,
  diffForwards,
  forwardTargets,
  pickEndpoint,
  readyEndpoints,
  serviceLabel,
  type EndpointSliceJson,
  type ForwardSpec,
} from './plan.js';

export type TunnelEvent =
  | { type: 'tunnel.forward'; service: string; port: number; protocol: string; local: string; note?: string }
  | { type: 'tunnel.closed'; service: string; port: number; protocol: string; local: string; reason: string }
  | { type: 'tunnel.skipped'; service: string; port: number; protocol: string; reason: string }
  | { type: 'info'; message: string }
  | { type: 'warning'; message: string }
  | { type: 'debug'; message: string };

/** Where the tunnel learns about Services and their endpoints. */
export interface TunnelSource {
  listServices(signal: AbortSignal): Promise<ServiceJson[]>;
  listEndpointSlices(namespace: string, service: string, signal: AbortSignal): Promise<EndpointSliceJson[]>;
}

export type { PodPort } from '../kube/index.js';

/** How the tunnel reaches a pod's port: see PortForwarder (KubeClient.portForwarder() in production). */
export type Connector = PortForwarder;

export interface TunnelOptions {
  source: TunnelSource;
  connect: Connector;
  onEvent: (e: TunnelEvent) => void;
  /** Default 127.0.0.1. */
  host?: string;
  /** How often Services and endpoints are listed again. Default 2 s. */
  pollMs?: number;
}

interface OpenForward {
  spec: ForwardSpec;
  server: Server;
  localPort: number;
  sockets: Set<Socket>;
  /** Round-robin counter over the Service's endpoints. */
  next: number;
}

const serviceId = (s: { namespace: string; name: string }) => `${s.namespace}/${s.name}`;

export function formatTunnelEvent(e: TunnelEvent): string {
  const svc = (x: { service: string; port: number; protocol: string }) => `${x.service} ${x.port}/${x.protocol}`;
  switch (e.type) {
    case 'tunnel.forward':
      return `${svc(e)} -> ${e.local}${e.note ? ` (${e.note})` : ''}`;
    case 'tunnel.closed':
      return `${svc(e)} -> ${e.local} closed (${e.reason})`;
    case 'tunnel.skipped':
      return `${svc(e)} not forwarded (${e.reason})`;
    default:
      return e.message;
  }
}

export class Tunnel {
  private readonly open = new Map<string, OpenForward>();
  /** EndpointSlices by namespace/name of every forwarded Service, from the latest listing. */
  private readonly slices = new Map<string, EndpointSliceJson[]>();
  private readonly skipped = new Set<string>();
  private readonly host: string;
  private readonly pollMs: number;
  private closed = false;

  constructor(private readonly opts: TunnelOptions) {
    this.host = opts.host ?? '127.0.0.1';
    this.pollMs = opts.pollMs ?? 2000;
  }

  /** The open forwards: Service port key -> local port. */
  forwards(): Map<string, number> {
    return new Map([...this.open].map(([k, f]) => [k, f.localPort]));
  }

  /**
   * Polls until `signal` aborts, then closes every listener and connection. The first listing's
   * error is thrown (a wrong context or an API server that is down); later ones are reported and
   * retried.
   */
  async run(signal: AbortSignal): Promise<void> {
    try {
      await this.poll(signal);
      if (this.open.size === 0) this.emit({ type: 'info', message: 'no LoadBalancer Service yet; waiting for one' });
      let failing: string | undefined;
      while (!signal.aborted) {
        await sleep(this.pollMs, undefined, { signal }).catch(() => {});
        if (signal.aborted) break;
        try {
          await this.poll(signal);
          if (failing) this.emit({ type: 'info', message: 'the API server answers again' });
          failing = undefined;
        } catch (err) {
          if (signal.aborted) break;
          const message = messageOf(err);
          if (message !== failing) this.emit({ type: 'warning', message: `listing Services failed: ${message}; retrying every ${this.pollMs / 1000}s` });
          failing = message;
        }
      }
    } finally {
      await this.close();
    }
  }

  /** One round: list, then open and close listeners so they match the LoadBalancer Service ports. */
  async poll(signal: AbortSignal): Promise<void> {
    const services = await this.opts.source.listServices(signal);
    const { forwards, skipped } = forwardTargets(services);
    for (const s of skipped) {
      if (this.skipped.has(s.key)) continue;
      this.skipped.add(s.key);
      this.emit({ type: 'tunnel.skipped', service: serviceId(s), port: s.port, protocol: s.protocol, reason: s.reason });
    }
    for (const k of [...this.skipped]) if (!skipped.some((s) => s.key === k)) this.skipped.delete(k);

    const wanted = new Set(forwards.map(serviceId));
    for (const id of [...this.slices.keys()]) if (!wanted.has(id)) this.slices.delete(id);
    await Promise.all(
      [...wanted].map(async (id) => {
        const [namespace, name] = id.split('/') as [string, string];
        await this.refreshEndpoints(namespace, name, signal).catch((err: unknown) => this.emit({ type: 'debug', message: `endpoints of ${id}: ${messageOf(err)}` }));
      }),
    );

    const d = diffForwards(this.open.keys(), forwards);
    const byId = new Map(services.map((s) => [serviceId({ namespace: s.metadata.namespace ?? 'default', name: s.metadata.name }), s]));
    for (const key of d.remove) {
      const f = this.open.get(key)!;
      const svc = byId.get(serviceId(f.spec));
      const reason = !svc ? 'Service removed' : svc.spec?.type !== 'LoadBalancer' ? `Service is now type ${svc.spec?.type ?? 'ClusterIP'}` : 'port removed from the Service';
      await this.closeForward(f, reason);
    }
    for (const spec of d.keep) this.open.get(spec.key)!.spec = spec;
    for (const spec of d.add) {
      if (this.closed) return;
      await this.openForward(spec);
    }
    if (d.remove.length > 0 && this.open.size === 0) this.emit({ type: 'info', message: 'no LoadBalancer Service left; waiting for one' });
  }

  /** Closes every listener and connection. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.open.values()];
    this.open.clear();
    await Promise.all(all.map((f) => this.shut(f)));
  }

  private emit(e: TunnelEvent): void {
    this.opts.onEvent(e);
  }

  private async refreshEndpoints(namespace: string, name: string, signal: AbortSignal): Promise<void> {
    this.slices.set(`${namespace}/${name}`, await this.opts.source.listEndpointSlices(namespace, name, signal));
  }

  private async openForward(spec: ForwardSpec): Promise<void> {
    const taken = new Map([...this.open.values()].map((f) => [f.localPort, serviceLabel(f.spec)]));
    const choice = chooseLocalPort(spec.port, taken);
    let server: Server;
    let note: string | undefined;
    if (choice.port === 0) {
      server = await listen(this.host, 0);
      note = bindNote(spec.port, this.host, { heldBy: choice.heldBy! });
    } else {
      try {
        server = await listen(this.host, choice.port);
      } catch (err) {
        const errno = (err as NodeJS.ErrnoException).code;
        server = await listen(this.host, 0);
        note = bindNote(spec.port, this.host, errno ? { errno } : {});
      }
    }
    const localPort = (server.address() as { port: number }).port;
    const f: OpenForward = { spec, server, localPort, sockets: new Set(), next: 0 };
    server.on('connection', (socket) => void this.accept(f, socket));
    server.on('error', (err) => this.emit({ type: 'warning', message: `${serviceLabel(f.spec)}: listener on ${this.host}:${localPort}: ${err.message}` }));
    this.open.set(spec.key, f);
    this.emit({ type: 'tunnel.forward', service: serviceId(spec), port: spec.port, protocol: spec.protocol, local: `${this.host}:${localPort}`, ...(note ? { note } : {}) });
  }

  private async closeForward(f: OpenForward, reason: string): Promise<void> {
    this.open.delete(f.spec.key);
    await this.shut(f);
    this.emit({ type: 'tunnel.closed', service: serviceId(f.spec), port: f.spec.port, protocol: f.spec.protocol, local: `${this.host}:${f.localPort}`, reason });
  }

  private async shut(f: OpenForward): Promise<void> {
    const stopped = new Promise<void>((resolve) => f.server.close(() => resolve()));
    for (const s of f.sockets) s.destroy();
    await stopped;
  }

  /** Carries one accepted connection to a pod; tries up to three pods before giving up. */
  private async accept(f: OpenForward, socket: Socket): Promise<void> {
    f.sockets.add(socket);
    socket.once('close', () => f.sockets.delete(socket));
    socket.on('error', (err) => this.emit({ type: 'debug', message: `${serviceLabel(f.spec)}: client connection: ${err.message}` }));
    socket.setNoDelay(true);
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    const failed = new Set<string>();
    let lastError: string | undefined;
    const signal = AbortSignal.timeout(10_000);
    for (let attempt = 0; attempt < 3; attempt++) {
      const cached = this.slices.get(serviceId(f.spec)) ?? [];
      if (attempt > 0 || readyEndpoints(cached, f.spec).length === 0) {
        await this.refreshEndpoints(f.spec.namespace, f.spec.name, signal).catch((err: unknown) => (lastError = `listing endpoints: ${messageOf(err)}`));
      }
      const endpoint = pickEndpoint(readyEndpoints(this.slices.get(serviceId(f.spec)) ?? [], f.spec), f.next++, failed);
      if (!endpoint) break;
      if (socket.destroyed || this.closed) return;
      const target = { namespace: f.spec.namespace, pod: endpoint.pod, port: endpoint.port };
      try {
        await this.opts.connect(target, socket, (message) =>
          this.emit({ type: 'warning', message: `${serviceLabel(f.spec)}: pod ${endpoint.pod} port ${endpoint.port}: ${message}` }),
        );
        this.emit({ type: 'debug', message: `${serviceLabel(f.spec)}: ${peer} -> pod ${endpoint.pod}:${endpoint.port}` });
        return;
      } catch (err) {
        failed.add(endpoint.pod);
        lastError = `pod ${endpoint.pod}: ${messageOf(err)}`;
        this.emit({ type: 'debug', message: `${serviceLabel(f.spec)}: ${peer}: ${lastError}; trying another` });
      }
    }
    if (socket.destroyed) return;
    this.emit({ type: 'warning', message: `${serviceLabel(f.spec)}: connection from ${peer} dropped: ${lastError ?? 'no ready pod behind the Service'}` });
    socket.destroy();
  }
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

function listen(host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** Services and EndpointSlices through the API server, each request bounded by `timeoutMs`. */
export function apiSource(client: KubeClient, timeoutMs = 10_000): TunnelSource {
  const items = async <T>(path: string, signal: AbortSignal): Promise<T[]> =>
    (await client.json<{ items?: T[] }>('GET', path, { timeoutMs, signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) })).items ?? [];
  return {
    listServices: (signal) => items<ServiceJson>('/api/v1/services', signal),
    listEndpointSlices: (namespace, service, signal) => {
      const selector = encodeURIComponent(`kubernetes.io/service-name=${service}`);
      return items<EndpointSliceJson>(`/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/endpointslices?labelSelector=${selector}`, signal);
    },
  };
}
