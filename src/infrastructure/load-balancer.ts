// The cluster's API endpoint when it has more than one control plane: mk's load balancer
// (src/drivers/load-balancer.ts), reconciled like the nodes. It exists while the spec has more
// than one control plane (drivers that can run it), lists every control plane of the spec as a
// backend, and goes when the spec is back to one. The plan here is pure; the steps run through the
// driver.
import { capabilitiesOf } from '../drivers/capabilities.js';
import { LB_CONFIG, LB_RELOAD, lbCheckArgv, renderLbConfig, type LbBackend } from '../drivers/load-balancer.js';
import type { Driver, ObservedCluster, ObservedNode } from '../drivers/types.js';
import { DriverError } from '../errors.js';
import type { StepSink } from '../phase/builder.js';
import { expandNodes } from '../spec/nodes.js';
import type { Cluster, DesiredNode } from '../spec/types.js';

/** mk's load balancer in front of the control planes (apiServerPort: 0 = any free port). */
export type LbStep =
  | { kind: 'lb.create'; cluster: string; image: string; apiServerPort: number }
  | { kind: 'lb.configure'; cluster: string }
  | { kind: 'lb.stop'; cluster: string }
  | { kind: 'lb.remove'; cluster: string };

/** How many control planes the spec has. */
export const controlPlaneCount = (cluster: Cluster): number => expandNodes(cluster).filter((n) => n.role === 'control-plane').length;

/** Whether the cluster's API endpoint is mk's load balancer (more than one control plane, on a driver that runs it). */
export const wantsLoadBalancer = (cluster: Cluster): boolean => capabilitiesOf(cluster).loadBalancer && controlPlaneCount(cluster) > 1;

/** The backends: the spec's control planes that have an address now. */
export function lbBackends(cluster: Cluster, nodes: readonly ObservedNode[]): LbBackend[] {
  const cps = new Set(expandNodes(cluster).filter((n) => n.role === 'control-plane').map((n) => n.name));
  return nodes.filter((n) => cps.has(n.name) && n.address).map((n) => ({ name: n.name, address: n.address! }));
}

export interface EndpointPlan {
  /** lb.create: the load balancer is made (or started) in this run. */
  create?: string;
  /** lb.configure: its backends are written in this run (after every new control plane exists). A load balancer started again keeps its configuration. */
  configure?: string;
  /** lb.remove: it goes in this run (the Kubernetes phase orders it after the kubeconfig points elsewhere). */
  remove?: string;
}

/**
 * Plans the load balancer: made when wanted and missing (started when stopped), its backends
 * written when they differ from the spec's control planes (or those change in this run), removed
 * when no longer wanted. `cpsUp` are the steps that create control planes in this run.
 */
export function planLoadBalancer(
  b: StepSink<LbStep>,
  cluster: Cluster,
  actual: ObservedCluster,
  opts: { network?: string; cpsUp: string[]; cpsLeaving: boolean; apiServerPort: number; desired: readonly DesiredNode[] },
): EndpointPlan {
  const name = cluster.metadata.name;
  const lb = actual.loadBalancer;
  const cps = opts.desired.filter((n) => n.role === 'control-plane').map((n) => n.name);
  if (!wantsLoadBalancer(cluster)) {
    if (!lb) return {};
    // Until it goes, it sends nothing to the control planes that leave.
    const configure = lb.state === 'running' && opts.cpsLeaving ? b.add({ kind: 'lb.configure', cluster: name }, name, 'change', `load balancer backends: ${cps.join(', ')}`, 'control planes leave') : undefined;
    const remove = b.add({ kind: 'lb.remove', cluster: name }, name, 'remove', `remove the load balancer ${lb.name}`, 'the spec has one control plane: it is the API endpoint again', [configure]);
    return { remove, ...(configure ? { configure } : {}) };
  }
  const plan: EndpointPlan = {};
  if (!lb || lb.state !== 'running') {
    const why = !lb ? `${cps.length} control planes need one API endpoint in front of them` : `it is ${lb.state}`;
    plan.create = b.add(
      { kind: 'lb.create', cluster: name, image: capabilitiesOf(cluster).nodeImage, apiServerPort: lb ? 0 : opts.apiServerPort },
      name,
      lb ? 'start' : 'create',
      lb ? `start the load balancer ${lb.name}` : `create the load balancer in front of the control planes (${capabilitiesOf(cluster).nodeImage}, haproxy)`,
      why,
      [opts.network],
    );
  }
  const want = lbBackends(cluster, actual.nodes);
  const have = lb?.backends;
  const drift = have !== undefined && (want.length !== Object.keys(have).length || want.some((w) => have[w.name] !== w.address));
  if (!lb || opts.cpsUp.length > 0 || opts.cpsLeaving || drift) {
    const reason = !lb
      ? 'new load balancer'
      : opts.cpsUp.length > 0 || opts.cpsLeaving
        ? 'control planes change'
        : `it lists ${Object.entries(have!).map(([n, a]) => `${n} ${a}`).sort().join(', ') || 'no control plane'}`;
    plan.configure = b.add({ kind: 'lb.configure', cluster: name }, name, 'change', `load balancer backends: ${cps.join(', ')}`, reason, [plan.create, ...opts.cpsUp]);
  }
  return plan;
}

/** Writes the backends of the spec's control planes as they are now; reloads only when they changed. */
export async function configureLoadBalancer(driver: Driver, cluster: Cluster, signal: AbortSignal): Promise<string | undefined> {
  if (!driver.loadBalancer) throw new DriverError("this cluster's driver runs no load balancer");
  const lb = driver.loadBalancer(cluster.metadata.name);
  const backends = lbBackends(cluster, (await driver.observe(cluster.metadata.name, signal)).nodes);
  const config = renderLbConfig(backends);
  if ((await lb.exec(['cat', LB_CONFIG], { signal })).stdout === config) return undefined;
  const next = `${LB_CONFIG}.next`;
  await lb.writeFile(next, config, 0o644, { signal });
  await lb.run(lbCheckArgv(next), { signal });
  await lb.run(['mv', next, LB_CONFIG], { signal });
  await lb.run([...LB_RELOAD], { signal });
  return backends.map((b) => `${b.name} ${b.address}`).join(', ') || 'no backends';
}
