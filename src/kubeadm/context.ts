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
import { capabilitiesOf } from '../drivers/capabilities.js';

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


/** Admin access per control plane, kept in what a run's steps (or an observation's phases) share. */
export function adminCache(shared: Map<string, unknown>): Map<string, Promise<AdminAccess>> {
  let cache = shared.get('kubeadm.admin') as Map<string, Promise<AdminAccess>> | undefined;
  if (!cache) shared.set('kubeadm.admin', (cache = new Map()));
  return cache;
}

/** The bootstrap context of a step: what it needs of the run (the spec above all). */
export function bootstrapContext(ctx: StepContext, id: string): BootstrapContext {
  const run = ctx.run;
  if (!run) throw new StepError(id, `step ${id} needs the cluster spec`);
  const admin = adminCache(run.shared);
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

/**
 * The node, running. Missing or unreachable: the step waits (the next apply creates it, or the host
 * answers again). Stopped or dead although a step of this run needs it: it exited after it started,
 * which fails the step at once with how it ended.
 */
export async function runningNode(ctx: BootstrapContext, name: string): Promise<ObservedNode> {
  const n = (await observeNodes(ctx)).find((x) => x.name === name);
  if (!n || n.state === 'unreachable') throw new WaitingError(`node ${name} is ${n ? `unreachable${n.detail ? ` (${n.detail})` : ''}` : 'missing'}; the next apply goes on once it is there`);
  if (n.state !== 'running') {
    const hint = capabilitiesOf(ctx.cluster).containerNodes
      ? '; a node container that exits right after it starts (often with code 255 and no output) is usually out of inotify instances on this host (README, Troubleshooting)'
      : '';
    throw new BootstrapError(`node ${name} is ${n.state}${n.detail ? ` (${n.detail})` : ''} though it was started for this step${hint}`);
  }
  if (!n.address) throw new BootstrapError(`node ${name} has no address on the cluster network`);
  return n;
}

/**
 * Admin access through the first of `nodes`' running control planes (in controlPlaneOrder) that has
 * an admin.conf, skipping `exclude`; undefined when none has. `cache` keeps each control plane's
 * access for a run.
 */
export async function firstAdminAccess(
  driver: Driver,
  cluster: Cluster,
  nodes: readonly ObservedNode[],
  opts: { signal?: AbortSignal; exclude?: readonly string[]; cache?: Map<string, Promise<AdminAccess>> } = {},
): Promise<AdminAccess | undefined> {
  const cache = opts.cache ?? new Map<string, Promise<AdminAccess>>();
  for (const node of controlPlaneOrder(cluster, nodes).filter((n) => !opts.exclude?.includes(n.name))) {
    let access = cache.get(node.name);
    if (!access) {
      access = (async () => {
        const r = await driver.node(cluster.metadata.name, node.name).exec(['cat', ADMIN_CONF], opts.signal ? { signal: opts.signal } : {});
        if (r.exitCode !== 0) throw new BootstrapError(`control plane ${node.name} has no ${ADMIN_CONF}`);
        const server = serverUrl(cluster, node);
        return { node, adminConf: r.stdout, server, client: adminClient(r.stdout, server, { retries: 2 }) };
      })();
      cache.set(node.name, access);
    }
    try {
      return await access;
    } catch (err) {
      cache.delete(node.name);
      if (!(err instanceof BootstrapError)) throw err;
    }
  }
  return undefined;
}

/** Admin access for a step (see firstAdminAccess); without one the step waits. */
export async function adminAccess(ctx: BootstrapContext, exclude: readonly string[] = []): Promise<AdminAccess> {
  const access = await firstAdminAccess(ctx.driver, ctx.cluster, await observeNodes(ctx), { signal: ctx.signal, exclude, cache: ctx.admin });
  if (access) return access;
  throw new WaitingError(`no running control plane of cluster ${ctx.cluster.metadata.name} gives admin access${exclude.length ? ` (besides ${exclude.join(', ')})` : ''}`);
}
