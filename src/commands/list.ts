// mk list (mk get clusters): every cluster mk finds, one line each. -o name lists names only and
// asks nothing but the list (shell completion runs it on every Tab); otherwise each cluster is
// observed as mk status observes it (nodes, and through a control plane their Ready condition and
// kubelet version), side by side.
import pLimit from 'p-limit';
import { clusterForName, driverFor, listAllClusters } from '../drivers/index.js';
import type { Driver, ObservedNode } from '../drivers/types.js';
import { EXIT } from '../errors.js';
import { table } from '../kubeadm/diagnostics.js';
import { observeBootstrap } from '../kubeadm/observe.js';
import { formatDocument, machineFormat } from '../output/format.js';
import type { Cluster } from '../spec/types.js';
import { knownSpec } from '../state.js';
import type { CommandContext } from './context.js';
import { nodeTrouble } from './status.js';

/** Clusters observed at once. */
const CONCURRENCY = 4;

export interface ClusterSummary {
  name: string;
  driver: string;
  /** Ready nodes (running ones for a cluster without Kubernetes) and all nodes. */
  nodes: { ready: number; total: number };
  /** The kubelets' versions as their Nodes report them, else the spec's for a kubeadm cluster; undefined without Kubernetes. */
  kubernetesVersion?: string;
  /** ok, stopped (no node runs), not ok (mk status NAME says why), no nodes. */
  health: 'ok' | 'stopped' | 'not ok' | 'no nodes';
  /** What is wrong, one line per node (what mk status lists under health). */
  problems: string[];
}

/** Pure: the one-line summary of what was observed. `kubeadm`: whether the cluster runs Kubernetes (from its spec, or a node kubeadm finished on). */
export function summarizeCluster(name: string, driver: string, nodes: readonly ObservedNode[], spec: Cluster | undefined): ClusterSummary {
  const kubeadm = spec ? spec.spec.bootstrap === 'kubeadm' : nodes.some((n) => n.kubeadm === 'done');
  const ready = nodes.filter((n) => n.state === 'running' && (!kubeadm || (typeof n.health?.ready === 'object' && n.health.ready.status === 'True'))).length;
  const problems = nodes.flatMap((n) => {
    const trouble = kubeadm && n.state === 'running' && n.kubeadm !== 'done' ? 'Kubernetes not set up' : nodeTrouble(n);
    return trouble ? [`node ${n.name}: ${trouble}`] : [];
  });
  const versions = [...new Set(nodes.flatMap((n) => (n.health?.version ? [n.health.version] : [])))].sort();
  const kubernetesVersion = versions.length ? versions.join(',') : kubeadm && spec ? spec.spec.kubernetesVersion : undefined;
  const health = nodes.length === 0 ? 'no nodes' : nodes.every((n) => n.state === 'stopped') ? 'stopped' : problems.length ? 'not ok' : 'ok';
  return { name, driver, nodes: { ready, total: nodes.length }, ...(kubernetesVersion ? { kubernetesVersion } : {}), health, problems };
}

export function formatClusterList(clusters: readonly ClusterSummary[]): string {
  return table([['NAME', 'DRIVER', 'READY', 'KUBERNETES', 'HEALTH'], ...clusters.map((c) => [c.name, c.driver, `${c.nodes.ready}/${c.nodes.total}`, c.kubernetesVersion ?? '-', c.health])]).trimEnd();
}

async function observeOne(ctx: CommandContext, name: string): Promise<ClusterSummary> {
  const debug = ctx.reporter.debug.bind(ctx.reporter);
  const spec = (await knownSpec(name))?.spec;
  // Without a spec mk assumes kubeadm, so the nodes' kubeadm sentinels are read either way.
  const { driver, cluster }: { driver: Driver; cluster: Cluster } = spec ? { driver: await driverFor(spec, debug), cluster: spec } : await clusterForName(name, debug);
  // eslint-disable-next-line no-restricted-syntax -- the driver's name is shown to the user, never branched on
  const driverName = driver.name;
  try {
    const observed = await observeBootstrap(driver, cluster, await driver.observe(name, ctx.signal), { signal: ctx.signal });
    return summarizeCluster(name, driverName, observed.nodes, spec);
  } catch (err) {
    // One cluster that cannot be observed does not hide the others.
    ctx.signal.throwIfAborted();
    return { name, driver: driverName, nodes: { ready: 0, total: 0 }, health: 'not ok', problems: [`not observed: ${err instanceof Error ? err.message : String(err)}`] };
  } finally {
    await driver.close?.();
  }
}

export async function list(ctx: CommandContext): Promise<number> {
  const found = await listAllClusters({ signal: ctx.signal, log: ctx.reporter.debug.bind(ctx.reporter) });
  for (const message of found.warnings) ctx.reporter.emit({ type: 'warning', message });
  if (ctx.output === 'name') {
    for (const name of found.names) ctx.print(name);
    return EXIT.ok;
  }
  const limit = pLimit(CONCURRENCY);
  const clusters = await Promise.all(found.names.map((name) => limit(() => observeOne(ctx, name))));
  const machine = machineFormat(ctx.output);
  if (machine) ctx.print(formatDocument(machine, { clusters }));
  else ctx.print(clusters.length ? formatClusterList(clusters) : 'no clusters (mk init writes a starter cluster.yaml)');
  return EXIT.ok;
}
