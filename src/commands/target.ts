// A cluster named on the command line (mk delete NAME, mk stop NAME, mk ssh NAME): the spec mk knows it
// by and the driver that reaches it.
import { driverFor, driverForName } from '../drivers/index.js';
import type { Driver } from '../drivers/types.js';
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
