// mk delete NAME | -f FILE: remove everything mk owns for the cluster, found by label.
import { driverFor, driverForName } from '../drivers/index.js';
import type { Driver } from '../drivers/types.js';
import { MkError, EXIT } from '../errors.js';
import { withClusterLock } from '../reconcile/lock.js';
import { deleteCluster } from '../reconcile/runner.js';
import { loadSpecs } from '../spec/load.js';
import { hasClusterState, knownSpec, removeClusterState } from '../state.js';
import type { Cluster } from '../spec/types.js';
import { withRunLog } from './apply.js';
import type { CommandContext } from './context.js';

/** Drops mk's kubeconfig context for the cluster (only that entry). */
async function removeContext(ctx: CommandContext, cluster: string): Promise<void> {
  const { contextName, kubeconfigPath, removeEntry, updateKubeconfig } = await import('../kubeadm/kubeconfig.js');
  const name = contextName(cluster);
  const path = kubeconfigPath();
  let removed = false;
  await updateKubeconfig(path, (doc) => {
    if (!doc?.contexts?.some((c) => c.name === name) && !doc?.clusters?.some((c) => c.name === name)) return undefined;
    removed = true;
    return removeEntry(doc, name);
  });
  if (removed) ctx.reporter.emit({ type: 'info', cluster, message: `removed context ${name} from ${path}` });
}

/**
 * mk delete NAME | -f FILE. A cluster mk cannot find (nothing labelled with its name, on the driver
 * it was applied with) is not created by asking: NAME says so and exits 1; -f says "nothing to
 * delete" and goes on (the files' clusters are gone, as asked). Once deleted, mk forgets the cluster
 * ($MK_HOME/clusters/NAME: last applied spec, last run, lock).
 */
export async function deleteClusters(ctx: CommandContext, name: string | undefined, file: string | undefined): Promise<number> {
  if (!name && !file) throw new MkError('name a cluster (mk delete NAME) or a spec (mk delete -f FILE)');
  if (name && file) throw new MkError('give either a cluster name or -f, not both');
  const targets: Array<{ name: string; spec?: Cluster; driver: () => Promise<Driver> }> = [];
  const debug = ctx.reporter.debug.bind(ctx.reporter);
  if (file) {
    for (const spec of await loadSpecs(file, { stdin: ctx.stdin })) {
      targets.push({ name: spec.cluster.metadata.name, spec: spec.cluster, driver: () => driverFor(spec.cluster, debug) });
    }
  } else if (name) {
    // Reach the cluster through the driver settings it was applied with (e.g. a remote DOCKER_HOST, ssh hosts).
    const known = (await knownSpec(name))?.spec;
    targets.push({ name, ...(known ? { spec: known } : {}), driver: () => (known ? driverFor(known, debug) : driverForName(name, debug)) });
  }
  for (const t of targets) {
    const driver = await t.driver();
    try {
      const found = await driver.observe(t.name, ctx.signal);
      if (found.nodes.length === 0 && !found.network && found.orphanVolumes.length === 0) {
        const forgotten = await hasClusterState(t.name);
        if (forgotten) await removeClusterState(t.name);
        if (file || forgotten) {
          ctx.reporter.emit({ type: 'info', cluster: t.name, message: `cluster "${t.name}" does not exist: nothing to delete${forgotten ? ` (mk's local state for it is removed)` : ''}` });
          continue;
        }
        throw new MkError(`no cluster named "${t.name}": nothing carries mk's label mk.dev/cluster=${t.name} (mk status lists the clusters mk finds)`);
      }
      const complete = await withRunLog(ctx, t.name, (reporter) =>
        withClusterLock(t.name, ctx.signal, async (signal) => {
          const { result } = await deleteCluster(t.name, { driver, reporter, signal, ...(t.spec ? { spec: t.spec } : {}) });
          await removeContext({ ...ctx, reporter }, t.name);
          return result.status === 'done';
        }),
      );
      // What mk remembers (ssh hosts and run logs among it) goes only once everything is gone.
      if (complete) await removeClusterState(t.name);
    } finally {
      await driver.close?.();
    }
  }
  return EXIT.ok;
}
