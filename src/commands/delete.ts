// mk delete NAME | -f FILE: remove everything mk owns for the cluster, found by label.
import { dockerDriver, driverFor } from '../drivers/index.js';
import type { Driver } from '../drivers/types.js';
import { MkError, EXIT } from '../errors.js';
import { withClusterLock } from '../reconcile/lock.js';
import { deleteCluster } from '../reconcile/runner.js';
import { loadSpecs } from '../spec/load.js';
import { loadLastApplied } from '../state.js';
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
    // Reach the cluster through the driver settings it was last applied with (e.g. a remote DOCKER_HOST).
    const last = await loadLastApplied(name);
    targets.push({ name, ...(last ? { spec: last } : {}), driver: () => (last ? driverFor(last, debug) : dockerDriver({}, debug)) });
  }
  for (const t of targets) {
    await withRunLog(ctx, t.name, (reporter) =>
      withClusterLock(t.name, ctx.signal, async (signal) => {
        const driver = await t.driver();
        try {
          await deleteCluster(t.name, { driver, reporter, signal, ...(t.spec ? { spec: t.spec } : {}) });
          await removeContext({ ...ctx, reporter }, t.name);
        } finally {
          await driver.close?.();
        }
      }),
    );
  }
  return EXIT.ok;
}
