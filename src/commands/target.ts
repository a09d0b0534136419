// A cluster named on the command line (mk delete NAME, mk stop NAME, mk ssh NAME): the spec mk knows it
// by and the driver that reaches it.
import { driverFor, driverForName } from '../drivers/index.js';
import type { Driver, ObservedCluster } from '../drivers/types.js';
import { MkError } from '../errors.js';
import type { Cluster } from '../spec/types.js';
import { knownSpec } from '../state.js';
import type { CommandContext } from './context.js';

export interface ClusterTarget {
  name: string;
  /** The spec from -f, or the one mk knows the cluster by (last applied, else last attempted). */
  spec?: Cluster;
  /** The driver with the settings the cluster was applied with (a remote DOCKER_HOST, ssh hosts); else the one that finds it by name. */
  driver: () => Promise<Driver>;
}

export function targetOf(ctx: CommandContext, name: string, spec: Cluster | undefined): ClusterTarget {
  const debug = ctx.reporter.debug.bind(ctx.reporter);
  return { name, ...(spec ? { spec } : {}), driver: () => (spec ? driverFor(spec, debug) : driverForName(name, debug)) };
}

/** The cluster called `name`, reached through the settings it was applied with from this machine. */
export async function namedTarget(ctx: CommandContext, name: string): Promise<ClusterTarget> {
  return targetOf(ctx, name, (await knownSpec(name))?.spec);
}

export function noSuchCluster(name: string): MkError {
  return new MkError(`no cluster named "${name}": nothing carries mk's label mk.dev/cluster=${name} (mk status lists the clusters mk finds)`);
}

/** Runs fn with the named cluster's driver (closed afterwards) and what it observes; a cluster without nodes is an error. */
export async function withNamedCluster<T>(ctx: CommandContext, name: string, fn: (c: { target: ClusterTarget; driver: Driver; observed: ObservedCluster }) => Promise<T>): Promise<T> {
  const target = await namedTarget(ctx, name);
  const driver = await target.driver();
  try {
    const observed = await driver.observe(name, ctx.signal);
    if (observed.nodes.length === 0) throw noSuchCluster(name);
    return await fn({ target, driver, observed });
  } finally {
    await driver.close?.();
  }
}
