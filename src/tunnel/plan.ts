// The pure part of `mk tunnel`: which Service ports to forward, which local port each gets, what
// changed between two listings, and which pod a new connection goes to. No I/O here.
import { isLoadBalancer, type ServiceJson } from './loadbalancers.js';

/** One Service port forwarded to the host. */
export interface ForwardSpec {
  /** namespace/name:port/protocol; stable while the Service keeps that port. */
  key: string;
  namespace: string;
  name: string;
  /** The Service port's name ('' when unnamed): EndpointSlice ports are matched by it. */
  portName: string;
  port: number;
  protocol: 'TCP';
}

/** A Service port that cannot be forwarded (port-forward carries TCP only). */
export interface SkippedPort {
  key: string;
  namespace: string;
  name: string;
  port: number;
  protocol: string;
  reason: string;
}

/** The parts of a discovery.k8s.io/v1 EndpointSlice that mk reads. */
export interface EndpointSliceJson {
  ports?: Array<{ name?: string | null; port?: number | null; protocol?: string | null }> | null;
  endpoints?: Array<{
    addresses?: string[];
    conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null } | null;
    targetRef?: { kind?: string; name?: string; namespace?: string } | null;
  }> | null;
}

/** A pod and the container port a connection is carried to. */
export interface Endpoint {
  pod: string;
  port: number;
}

export function forwardKey(namespace: string, name: string, port: number, protocol: string): string {
  return `${namespace}/${name}:${port}/${protocol}`;
}

/** "default/web 80/TCP" */
export function serviceLabel(f: { namespace: string; name: string; port: number; protocol: string }): string {
  return `${f.namespace}/${f.name} ${f.port}/${f.protocol}`;
}

const byKey = <T extends { namespace: string; name: string; port: number }>(a: T, b: T) =>
  a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name) || a.port - b.port;

/** Every TCP port of every LoadBalancer Service, sorted; other protocols are listed as skipped. */
export function forwardTargets(services: readonly ServiceJson[]): { forwards: ForwardSpec[]; skipped: SkippedPort[] } {
  const forwards: ForwardSpec[] = [];
  const skipped: SkippedPort[] = [];
  for (const s of services.filter(isLoadBalancer)) {
    const namespace = s.metadata.namespace ?? 'default';
    const name = s.metadata.name;
    for (const p of s.spec?.ports ?? []) {
      const protocol = p.protocol ?? 'TCP';
      const key = forwardKey(namespace, name, p.port, protocol);
      if (protocol === 'TCP') forwards.push({ key, namespace, name, portName: p.name ?? '', port: p.port, protocol });
      else skipped.push({ key, namespace, name, port: p.port, protocol, reason: 'the Kubernetes port-forward carries TCP only' });
    }
  }
  return { forwards: forwards.sort(byKey), skipped: skipped.sort(byKey) };
}

export interface ForwardDiff {
  /** New forwards, in the order their local ports should be chosen. */
  add: ForwardSpec[];
  /** Keys of forwards to close. */
  remove: string[];
  /** Forwards that stay open, with the latest spec (a port may have been renamed). */
  keep: ForwardSpec[];
}

/** What to open and close to go from the forwards open now to the desired ones. */
export function diffForwards(open: Iterable<string>, desired: readonly ForwardSpec[]): ForwardDiff {
  const openKeys = new Set(open);
  const desiredKeys = new Set(desired.map((d) => d.key));
  return {
    add: desired.filter((d) => !openKeys.has(d.key)),
    remove: [...openKeys].filter((k) => !desiredKeys.has(k)).sort(),
    keep: desired.filter((d) => openKeys.has(d.key)),
  };
}

/**
 * The local port to try first for a Service port: the same number, unless another forward of
 * this tunnel holds it; then 0 (any free port) and which forward holds it.
 */
export function chooseLocalPort(wanted: number, taken: ReadonlyMap<number, string>): { port: number; heldBy?: string } {
  const holder = taken.get(wanted);
  return holder === undefined ? { port: wanted } : { port: 0, heldBy: holder };
}

/** Why the wanted local port could not be bound, for the forward's line. */
export function bindNote(wanted: number, host: string, reason: { heldBy?: string; errno?: string }): string {
  const addr = `${host}:${wanted}`;
  if (reason.heldBy) return `${addr} is already forwarded for ${reason.heldBy}`;
  if (reason.errno === 'EADDRINUSE') return `${addr} is in use`;
  if (reason.errno === 'EACCES' || reason.errno === 'EPERM') return `${addr} needs privileges`;
  return `${addr} is unavailable${reason.errno ? ` (${reason.errno})` : ''}`;
}

/**
 * The pods a connection to the Service port can go to: endpoints that are ready (an unset
 * condition means ready), or, when none is, those still serving while terminating (as
 * kube-proxy falls back). Only endpoints backed by a Pod can be reached through port-forward.
 * Deduplicated by pod (dual-stack Services have one slice per address family); sorted.
 */
export function readyEndpoints(slices: readonly EndpointSliceJson[], target: { portName: string; protocol: string }): Endpoint[] {
  const ready = new Map<string, number>();
  const serving = new Map<string, number>();
  for (const slice of slices) {
    const port = (slice.ports ?? []).find((p) => (p.name ?? '') === target.portName && (p.protocol ?? 'TCP') === target.protocol)?.port;
    if (port == null) continue;
    for (const e of slice.endpoints ?? []) {
      if (e.targetRef?.kind !== 'Pod' || !e.targetRef.name) continue;
      const c = e.conditions ?? {};
      if (c.ready !== false) ready.set(e.targetRef.name, port);
      else if (c.serving === true) serving.set(e.targetRef.name, port);
    }
  }
  const chosen = ready.size > 0 ? ready : serving;
  return [...chosen].map(([pod, port]) => ({ pod, port })).sort((a, b) => a.pod.localeCompare(b.pod));
}

/** Round robin: the n-th connection's endpoint, skipping ones that just failed. */
export function pickEndpoint(endpoints: readonly Endpoint[], n: number, exclude: ReadonlySet<string> = new Set()): Endpoint | undefined {
  const usable = endpoints.filter((e) => !exclude.has(e.pod));
  return usable.length ? usable[n % usable.length] : undefined;
}
