// What the bootstrap steps share within one run: the driver, the spec, and admin access to the API
// server through a control plane (read from the node, never cached across runs).
import { StepError, WaitingError } from '../errors.js';
import type { Driver, NodeHandle, ObservedNode } from '../drivers/types.js';
import type { Reporter } from '../log.js';
import type { StepContext } from '../phase/types.js';
import type { Cluster } from '../spec/types.js';
import type { KubeClient } from '../kube/index.js';
import { adminClient } from './api.js';
import { controlPlaneOrder, serverUrl } from './endpoint.js';
import { BootstrapError } from './errors.js';

export interface BootstrapContext {
  driver: Driver;
  cluster: Cluster;
  reporter: Reporter;
  signal: AbortSignal;
  /** Folder of the spec file (a CNI manifest path is relative to it). */
  specDir?: string;
  /** When the run started: "cluster usable" is measured from here. */
  startedAt: number;
  /** Make mk's context the current one when exporting the kubeconfig. */
  switchContext: boolean;
  /** Admin access per control plane, for this run. */
  admin: Map<string, Promise<AdminAccess>>;
}

export interface AdminAccess {
  /** The control plane the access goes through. */
  node: ObservedNode;
  /** The kubeadm admin.conf (holds a client key: never logged). */
  adminConf: string;
  /** API server URL reachable from here. */
  server: string;
  /** The API server as admin; transient failures retried twice. Not bound to the run's signal, so cleanups in finally blocks still reach it. */
  client: KubeClient;
}


const ADMIN = 'kubeadm.admin';

/** The bootstrap context of a step: what it needs of the run (the spec above all). */
export function bootstrapContext(ctx: StepContext, id: string): BootstrapContext {
  const run = ctx.run;
  if (!run) throw new StepError(id, `step ${id} needs the cluster spec`);
  let admin = run.shared.get(ADMIN) as BootstrapContext['admin'] | undefined;
  if (!admin) run.shared.set(ADMIN, (admin = new Map()));
  return {
    driver: ctx.driver,
    cluster: run.cluster,
    reporter: ctx.reporter,
    signal: ctx.signal,
    startedAt: run.startedAt,
    switchContext: run.switchContext,
    admin,
    ...(run.specDir ? { specDir: run.specDir } : {}),
  };
}

export const ADMIN_CONF = '/etc/kubernetes/admin.conf';

export function handle(ctx: BootstrapContext, name: string): NodeHandle {
  return ctx.driver.node(ctx.cluster.metadata.name, name);
}

export async function observeNodes(ctx: BootstrapContext): Promise<ObservedNode[]> {
  return (await ctx.driver.observe(ctx.cluster.metadata.name, ctx.signal)).nodes;
}

export async function runningNode(ctx: BootstrapContext, name: string): Promise<ObservedNode> {
  const n = (await observeNodes(ctx)).find((x) => x.name === name);
  if (!n || n.state !== 'running') throw new WaitingError(`node ${name} is ${n ? n.state : 'missing'}; the next apply goes on once it runs`);
  if (!n.address) throw new BootstrapError(`node ${name} has no address on the cluster network`);
  return n;
}

/**
 * Admin access through the first control plane (in controlPlaneOrder) that has an admin.conf,
 * skipping `exclude` (a node being reset). Throws when no control plane can give access.
 */
export async function adminAccess(ctx: BootstrapContext, exclude: readonly string[] = []): Promise<AdminAccess> {
  const candidates = controlPlaneOrder(ctx.cluster, await observeNodes(ctx)).filter((n) => !exclude.includes(n.name));
  for (const node of candidates) {
    let access = ctx.admin.get(node.name);
    if (!access) {
      access = (async () => {
        const r = await handle(ctx, node.name).exec(['cat', ADMIN_CONF], { signal: ctx.signal });
        if (r.exitCode !== 0) throw new BootstrapError(`control plane ${node.name} has no ${ADMIN_CONF}`);
        const server = serverUrl(ctx.cluster, node);
        return { node, adminConf: r.stdout, server, client: adminClient(r.stdout, server, { retries: 2 }) };
      })();
      ctx.admin.set(node.name, access);
    }
    try {
      return await access;
    } catch (err) {
      ctx.admin.delete(node.name);
      if (!(err instanceof BootstrapError)) throw err;
    }
  }
  throw new WaitingError(`no running control plane of cluster ${ctx.cluster.metadata.name} gives admin access${exclude.length ? ` (besides ${exclude.join(', ')})` : ''}`);
}
