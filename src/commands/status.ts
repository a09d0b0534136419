// mk status [NAME] [-f FILE]: what runs, whether it is healthy, how the last apply ended, and what
// differs from the spec (given, or last applied, or last attempted).
import { driverFor, driverForName, listAllClusters } from '../drivers/index.js';
import type { Driver, NodeHealth, ObservedCluster, ObservedNode } from '../drivers/types.js';
import { EXIT, MkError } from '../errors.js';
import type { Plan } from '../plan.js';
import { planFor } from '../reconcile/runner.js';
import { loadSpecs } from '../spec/load.js';
import type { Cluster } from '../spec/types.js';
import { knownSpec, loadLastRun, loadStopped, type LastRun } from '../state.js';
import { formatDocument, machineFormat } from '../output/format.js';
import { stepLine } from '../output/plan-text.js';
import { formatLoadBalancers, type LoadBalancerService } from '../tunnel/loadbalancers.js';
import type { CommandContext } from './context.js';
import { describeIngressDns, type IngressDnsEndpoint } from '../addons/ingress-dns.js';
import { desiredAddons } from '../spec/addons.js';

export interface ClusterStatus {
  name: string;
  network?: { name: string; subnet?: string };
  nodes: Array<{ name: string; role: string; pool: string; state: string; address?: string; apiServerPort?: number; image: string; health?: NodeHealth }>;
  /** Whether every node runs and (where checked) is Ready, its kubelet active and its CNI config in place, and no problem was found. */
  healthy: boolean;
  /** mk's load balancer in front of the control planes, when there is one. */
  loadBalancer?: { name: string; state: string; address?: string; apiServerPort?: number; backends?: string[] };
  /** etcd's members, when more than one control plane made them worth reading. */
  etcdMembers?: string[];
  /** What is wrong, one line each (empty when healthy). */
  unhealthy: string[];
  /** Compared against: 'spec' (-f), 'last-applied', 'last-attempted' (no apply finished yet), or none. */
  comparedWith: 'spec' | 'last-applied' | 'last-attempted' | 'none';
  /** When mk stop stopped the cluster (until mk start or mk apply starts it). */
  stopped?: { at: string };
  /** The last apply from this machine, when it did not end well (failed, aborted, waiting, or still running). */
  lastRun?: Omit<LastRun, 'spec'>;
  outOfSync: string[];
  /** Plan warnings, e.g. a change mk would refuse or parts it does not reconcile yet. */
  warnings: string[];
  /** Services of type LoadBalancer (through kubeconfig context mk-NAME); absent without Kubernetes. */
  loadBalancers?: LoadBalancerService[];
  /** Why the LoadBalancer Services could not be listed (no context, API server down or silent). */
  loadBalancersError?: string;
  /** Where the ingress-dns addon answers, when the spec enables it: the address to point a resolver at. */
  ingressDns?: IngressDnsEndpoint;
  /** Why that could not be read. */
  ingressDnsError?: string;
}

/** What is wrong with a node, as few words as can say it; undefined when nothing is (or nothing was checked). */
export function nodeTrouble(n: ObservedNode): string | undefined {
  if (n.state !== 'running') return n.state;
  const h = n.health;
  if (!h) return undefined;
  const parts: string[] = [];
  if (h.kubelet !== 'active') parts.push(`kubelet ${h.kubelet || 'not running'}`);
  if (h.cniConfig === false) parts.push('no CNI config');
  if (h.nodeNetwork === false) parts.push('mk node network incomplete');
  if (h.ready === 'unregistered') parts.push('not registered');
  else if (h.ready && h.ready.status !== 'True') parts.push(`NotReady${h.ready.reason ? ` (${h.ready.reason})` : ''}`);
  return parts.length ? parts.join(', ') : undefined;
}

function readyText(n: { health?: NodeHealth }): string {
  const h = n.health;
  if (!h?.ready) return '-';
  return h.ready === 'unregistered' ? 'unregistered' : h.ready.status === 'True' ? 'Ready' : 'NotReady';
}

export function summarize(observed: ObservedCluster, plan: Plan | undefined, comparedWith: ClusterStatus['comparedWith']): ClusterStatus {
  const unhealthy = [
    ...observed.nodes.flatMap((n) => {
      const t = nodeTrouble(n);
      return t ? [`node ${n.name}: ${t}`] : [];
    }),
    ...(plan?.problems ?? []),
  ];
  return {
    name: observed.name,
    ...(observed.network ? { network: { name: observed.network.name, ...(observed.network.subnet ? { subnet: observed.network.subnet } : {}) } } : {}),
    nodes: observed.nodes
      .map((n) => ({
        name: n.name,
        role: n.role,
        pool: n.pool,
        state: n.state,
        ...(n.address ? { address: n.address } : {}),
        ...(n.apiServerPort ? { apiServerPort: n.apiServerPort } : {}),
        image: n.image,
        ...(n.health ? { health: n.health } : {}),
      }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    ...(observed.loadBalancer ? { loadBalancer: lbStatus(observed.loadBalancer) } : {}),
    ...(observed.etcd && !observed.etcd.error ? { etcdMembers: observed.etcd.members.map((m) => m.name || `(unnamed ${m.id})`) } : {}),
    healthy: unhealthy.length === 0,
    unhealthy,
    comparedWith,
    outOfSync: plan ? [...plan.steps.map((s) => stepLine(s).trim()), ...(plan.unchecked ?? []).map((u) => `${u}: not checked (see the warning)`)] : [],
    warnings: plan?.warnings ?? [],
  };
}

function lbStatus(lb: NonNullable<ObservedCluster['loadBalancer']>): NonNullable<ClusterStatus['loadBalancer']> {
  return {
    name: lb.name,
    state: lb.state,
    ...(lb.address ? { address: lb.address } : {}),
    ...(lb.apiServerPort ? { apiServerPort: lb.apiServerPort } : {}),
    ...(lb.backends ? { backends: Object.keys(lb.backends).sort() } : {}),
  };
}

/** "failed at 2026-12-06T06:40:12Z in step kubeadm.join:dev-worker-1: <first line of the error>". */
function lastRunText(r: Omit<LastRun, 'spec'>): string {
  const when = r.finishedAt ?? r.startedAt;
  const what = r.outcome === 'running' ? `started at ${r.startedAt} and did not finish (still running, or mk was killed)` : `${r.outcome} at ${when}`;
  return `${what}${r.failedStep ? ` in step ${r.failedStep}` : ''}${r.error ? `: ${r.error.split('\n')[0]}` : ''}`;
}

export function formatStatus(s: ClusterStatus): string {
  const lines = [`cluster ${s.name}${s.network ? `  network ${s.network.name}${s.network.subnet ? ` ${s.network.subnet}` : ''}` : ''}`];
  if (s.nodes.length === 0) lines.push('  (no nodes)');
  const withHealth = s.nodes.some((n) => n.health);
  const rows = [
    ['NAME', 'ROLE', 'STATE', ...(withHealth ? ['READY', 'KUBELET'] : []), 'ADDRESS', 'API', 'IMAGE'],
    ...s.nodes.map((n) => [
      n.name,
      n.role,
      n.state,
      ...(withHealth ? [readyText(n), n.health?.kubelet || '-'] : []),
      n.address ?? '-',
      n.apiServerPort ? `127.0.0.1:${n.apiServerPort}` : '-',
      n.image,
    ]),
  ];
  if (s.nodes.length) {
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) lines.push('  ' + r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  }
  const lb = s.loadBalancer;
  if (lb) {
    const where = [lb.address, lb.apiServerPort ? `127.0.0.1:${lb.apiServerPort}` : undefined].filter(Boolean).join(', ');
    lines.push(`  api endpoint: load balancer ${lb.name} (${lb.state}${where ? `, ${where}` : ''})${lb.backends ? ` -> ${lb.backends.join(', ') || 'no control plane'}` : ''}`);
  }
  if (s.etcdMembers) lines.push(`  etcd: ${s.etcdMembers.length} member${s.etcdMembers.length === 1 ? '' : 's'} (${s.etcdMembers.join(', ')})`);
  if (s.stopped) lines.push(`  stopped by mk stop at ${s.stopped.at}: mk start ${s.name} brings it back`);
  if (s.nodes.length > 0) lines.push(s.healthy ? '  health: ok' : '  health: NOT OK', ...s.unhealthy.map((u) => `    ${u}`));
  if (s.lastRun) lines.push(`  last apply: ${lastRunText(s.lastRun)}`);
  const against = s.comparedWith === 'spec' ? 'spec' : s.comparedWith === 'last-applied' ? 'last applied spec' : 'spec of the last apply attempted (none finished)';
  if (s.comparedWith === 'none') lines.push('  sync: unknown (never applied from this machine; pass -f FILE to compare)');
  else if (s.outOfSync.length === 0) lines.push(`  sync: in sync with the ${against}`);
  else lines.push(`  sync: out of sync with the ${against}:`, ...s.outOfSync.map((l) => `    ${l}`));
  if (s.loadBalancers) lines.push(...formatLoadBalancers({ loadBalancers: s.loadBalancers }));
  else if (s.loadBalancersError) lines.push(...formatLoadBalancers({ loadBalancersError: s.loadBalancersError }));
  if (s.ingressDns) lines.push(`  ingress dns: ${describeIngressDns(s.ingressDns)}`);
  else if (s.ingressDnsError) lines.push(`  ingress dns: not read (${s.ingressDnsError})`);
  for (const w of s.warnings) lines.push(`  warning: ${w}`);
  return lines.join('\n');
}

/**
 * The cluster's LoadBalancer Services, or why they are not listed. No network call when the
 * cluster runs without Kubernetes, has no running control plane, or has no mk-NAME context.
 */
async function loadBalancersOf(ctx: CommandContext, name: string, observed: ObservedCluster, spec: Cluster | undefined): Promise<Pick<ClusterStatus, 'loadBalancers' | 'loadBalancersError'>> {
  if (spec?.spec.bootstrap === 'none' || observed.nodes.length === 0) return {};
  if (!observed.nodes.some((n) => n.role === 'control-plane' && n.state === 'running')) return { loadBalancersError: 'no control plane is running' };
  const { loadBalancerStatus } = await import('../tunnel/access.js');
  return loadBalancerStatus(name, { signal: ctx.signal });
}

/**
 * Where the ingress-dns addon answers, when the spec enables it (through context mk-NAME, like the
 * LoadBalancer Services), or why that could not be read.
 */
async function ingressDnsOf(ctx: CommandContext, name: string, observed: ObservedCluster, spec: Cluster | undefined): Promise<Pick<ClusterStatus, 'ingressDns' | 'ingressDnsError'>> {
  const addon = spec?.spec.bootstrap === 'kubeadm' ? desiredAddons(spec).find((a) => a.name === 'ingress-dns' && a.enabled && a.manifests === undefined) : undefined;
  if (!spec || !addon || observed.nodes.length === 0) return {};
  if (!observed.nodes.some((n) => n.role === 'control-plane' && n.state === 'running')) return { ingressDnsError: 'no control plane is running' };
  const [{ clusterAccess, LIST_TIMEOUT_MS }, { ingressDnsEndpoint }] = await Promise.all([import('../tunnel/access.js'), import('../addons/ingress-dns.js')]);
  const access = await clusterAccess(name);
  if (!access.ok) return { ingressDnsError: access.reason };
  try {
    const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(LIST_TIMEOUT_MS)]);
    return { ingressDns: await ingressDnsEndpoint(access.client.with({ signal, timeoutMs: LIST_TIMEOUT_MS, retries: 0 }), spec, addon, signal) };
  } catch (err) {
    ctx.signal.throwIfAborted();
    return { ingressDnsError: `API server ${access.server}: ${err instanceof Error ? err.message : String(err)}` };
  } finally {
    access.client.close();
  }
}

export async function status(ctx: CommandContext, name: string | undefined, file: string | undefined): Promise<number> {
  const debug = ctx.reporter.debug.bind(ctx.reporter);
  const targets: Array<{ name: string; spec?: Cluster; file?: string; comparedWith: ClusterStatus['comparedWith'] }> = [];
  if (file) {
    for (const s of await loadSpecs(file, { stdin: ctx.stdin })) {
      if (!name || s.cluster.metadata.name === name) targets.push({ name: s.cluster.metadata.name, spec: s.cluster, file: s.file, comparedWith: 'spec' });
    }
  } else {
    let names: string[];
    if (name) names = [name];
    else {
      const listed = await listAllClusters({ signal: ctx.signal, log: debug });
      for (const message of listed.warnings) ctx.reporter.emit({ type: 'warning', message });
      names = listed.names;
    }
    for (const n of names) {
      const known = await knownSpec(n);
      targets.push(known ? { name: n, spec: known.spec, comparedWith: known.applied ? 'last-applied' : 'last-attempted' } : { name: n, comparedWith: 'none' });
    }
  }
  const result: ClusterStatus[] = [];
  for (const t of targets) {
    const driver: Driver = t.spec ? await driverFor(t.spec, debug) : await driverForName(t.name, debug);
    try {
      // With a spec, observe and plan as apply does (kubeadm state, kubeconfig, addons), so "in sync" means what apply would say.
      const planned = t.spec ? await planFor(driver, t.spec, { signal: ctx.signal, ...(t.file ? { file: t.file } : {}) }) : undefined;
      const observed = planned ? planned.actual : await driver.observe(t.name, ctx.signal);
      let plan: Plan | undefined;
      let refusal: string | undefined;
      if (planned) {
        try {
          plan = planned.plan();
        } catch (err) {
          // A plan that mk would refuse is still a status, and not "in sync".
          if (!(err instanceof MkError)) throw err;
          refusal = `mk would refuse to apply: ${err.message}`;
        }
      }
      const summary = summarize(observed, plan, t.comparedWith);
      const stopped = await loadStopped(t.name);
      if (stopped) summary.stopped = { at: stopped.at };
      const last = await loadLastRun(t.name);
      if (last && last.outcome !== 'done') summary.lastRun = (({ spec: _spec, ...rest }) => rest)(last);
      if (refusal) summary.outOfSync.push(refusal);
      Object.assign(summary, await loadBalancersOf(ctx, t.name, observed, t.spec), await ingressDnsOf(ctx, t.name, observed, t.spec));
      result.push(summary);
    } finally {
      await driver.close?.();
    }
  }
  const machine = machineFormat(ctx.output);
  if (machine) ctx.print(formatDocument(machine, { clusters: result }));
  else if (result.length === 0) ctx.print(name ? `no cluster named "${name}"` : 'no clusters');
  else ctx.print(result.map(formatStatus).join('\n\n'));
  // Like minikube status: 0 only when every cluster shown is there and healthy.
  if (name && result.every((r) => r.nodes.length === 0 && !r.network)) return EXIT.error;
  return result.every((r) => r.healthy) ? EXIT.ok : EXIT.unhealthy;
}
