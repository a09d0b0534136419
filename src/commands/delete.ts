// mk delete NAME | -f FILE: remove everything mk owns for the cluster, found by label.
import { dockerDriver, driverFor } from '../drivers/index.js';
import type { Driver } from '../drivers/types.js';
import { MkError, EXIT } from '../errors.js';
import { acquireClusterLock } from '../reconcile/lock.js';
import { deleteCluster } from '../reconcile/runner.js';
import { loadSpecs } from '../spec/load.js';
import { loadLastApplied } from '../state.js';
import type { CommandContext } from './context.js';

export async function del(ctx: CommandContext, name: string | undefined, file: string | undefined): Promise<number> {
  if (!name && !file) throw new MkError('name a cluster (mk delete NAME) or a spec (mk delete -f FILE)');
  if (name && file) throw new MkError('give either a cluster name or -f, not both');
  const targets: Array<{ name: string; driver: () => Promise<Driver> }> = [];
  const debug = ctx.reporter.debug.bind(ctx.reporter);
  if (file) {
    for (const spec of await loadSpecs(file, { stdin: ctx.stdin })) {
      targets.push({ name: spec.cluster.metadata.name, driver: () => driverFor(spec.cluster, debug) });
    }
  } else if (name) {
    // Reach the cluster through the driver settings it was last applied with (e.g. a remote DOCKER_HOST).
    const last = await loadLastApplied(name);
    targets.push({ name, driver: () => (last ? driverFor(last, debug) : dockerDriver({}, debug)) });
  }
  for (const t of targets) {
    const lock = await acquireClusterLock(t.name);
    const driver = await t.driver();
    try {
      await deleteCluster(t.name, { driver, reporter: ctx.reporter, signal: ctx.signal });
    } finally {
      await driver.close?.();
      await lock.release();
    }
  }
  return EXIT.ok;
}
