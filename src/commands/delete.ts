// mk delete NAME | -f FILE | --all: remove everything mk owns for the cluster(s), found by label.
import { listAllClusters } from '../drivers/index.js';
import type { Driver } from '../drivers/types.js';
import { MkError, EXIT } from '../errors.js';
import type { Reporter } from '../log.js';
import { withClusterLock } from '../reconcile/lock.js';
import type { ClusterPlan } from '../reconcile/phases.js';
import { executeWholeCluster, planWholeCluster, runWholeCluster, type RunResult } from '../reconcile/runner.js';
import { loadSpecs } from '../spec/load.js';
import { hasClusterState, removeClusterState } from '../state.js';
import { withRunLog } from './apply.js';
import type { CommandContext } from './context.js';
import { namedTarget, noSuchCluster, targetOf, type ClusterTarget } from './target.js';

/** Drops mk's kubeconfig context for the cluster (only that entry). */
async function removeContext(ctx: CommandContext, reporter: Reporter, cluster: string): Promise<void> {
  const { contextName, kubeconfigPath, removeEntry, updateKubeconfig } = await import('../kubeadm/kubeconfig.js');
  const name = contextName(cluster);
  const path = kubeconfigPath();
  let removed = false;
  await updateKubeconfig(path, (doc) => {
    if (!doc?.contexts?.some((c) => c.name === name) && !doc?.clusters?.some((c) => c.name === name)) return undefined;
    removed = true;
    return removeEntry(doc, name);
  });
  if (removed) reporter.emit({ type: 'info', cluster, message: `removed context ${name} from ${path}` });
}

/**
 * Runs a cluster's deletion under its lock, with the run logged: `run` executes the plan. Then its
 * kubeconfig context goes, and once everything is gone, what mk remembers of it (ssh hosts, run logs).
 */
async function deleteLocked(ctx: CommandContext, name: string, run: (reporter: Reporter, signal: AbortSignal) => Promise<RunResult>): Promise<void> {
  const complete = await withRunLog(ctx, name, (reporter) =>
    withClusterLock(name, ctx.signal, async (signal) => {
      const result = await run(reporter, signal);
      await removeContext(ctx, reporter, name);
      return result.status === 'done';
    }),
  );
  if (complete) await removeClusterState(name);
}

/**
 * A cluster mk cannot find (nothing labelled with its name, on the driver it was applied with): its
 * local state is forgotten, and it is said so; `quiet` false (mk delete NAME of a name mk never knew)
 * is an error (exit 1).
 */
async function nothingToDelete(ctx: CommandContext, name: string, quiet: boolean): Promise<void> {
  const forgotten = await hasClusterState(name);
  if (forgotten) await removeClusterState(name);
  if (!quiet && !forgotten) throw noSuchCluster(name);
  ctx.reporter.emit({ type: 'info', cluster: name, message: `cluster "${name}" does not exist: nothing to delete${forgotten ? ` (mk's local state for it is removed)` : ''}` });
}

/**
 * mk delete NAME | -f FILE | --all. A cluster mk cannot find is not created by asking: NAME says so and
 * exits 1; -f and --all say "nothing to delete" and go on. Once deleted, mk forgets the cluster
 * ($MK_HOME/clusters/NAME: last applied spec, last run, lock).
 */
export async function deleteClusters(ctx: CommandContext, name: string | undefined, file: string | undefined, opts: { all?: boolean } = {}): Promise<number> {
  if ([name, file, opts.all].filter(Boolean).length !== 1) throw new MkError('name a cluster (mk delete NAME), a spec (mk delete -f FILE) or every cluster (mk delete --all), one of them');
  if (opts.all) return deleteAll(ctx);
  const targets: ClusterTarget[] = [];
  if (file) for (const spec of await loadSpecs(file, { stdin: ctx.stdin })) targets.push(targetOf(ctx, spec.cluster.metadata.name, spec.cluster));
  else if (name) targets.push(await namedTarget(ctx, name));
  for (const t of targets) {
    const driver = await t.driver();
    try {
      const found = await driver.observe(t.name, ctx.signal);
      if (found.nodes.length === 0 && !found.network && found.orphanVolumes.length === 0) {
        await nothingToDelete(ctx, t.name, file !== undefined);
        continue;
      }
      const spec = t.spec ? { spec: t.spec } : {};
      await deleteLocked(ctx, t.name, async (reporter, signal) => (await runWholeCluster('delete', t.name, { driver, reporter, signal, ...spec })).result);
    } finally {
      await driver.close?.();
    }
  }
  return EXIT.ok;
}

/**
 * mk delete --all: every cluster mk finds (listAllClusters: labelled on the Docker engine, or ssh hosts
 * remembered here), and nothing else. Every cluster's plan is printed before any is deleted; then each
 * is deleted as mk delete NAME does, running the plan that was printed.
 */
async function deleteAll(ctx: CommandContext): Promise<number> {
  const listed = await listAllClusters({ signal: ctx.signal, log: ctx.reporter.debug.bind(ctx.reporter) });
  for (const message of listed.warnings) ctx.reporter.emit({ type: 'warning', message });
  if (listed.names.length === 0) {
    ctx.reporter.emit({ type: 'info', message: 'no clusters: nothing to delete' });
    return EXIT.ok;
  }
  ctx.reporter.emit({ type: 'info', message: `deleting ${listed.names.length} cluster${listed.names.length === 1 ? '' : 's'}: ${listed.names.join(', ')}` });
  const planned: Array<{ target: ClusterTarget; driver: Driver; plan: ClusterPlan }> = [];
  let failed: MkError | undefined;
  try {
    for (const name of listed.names) {
      const target = await namedTarget(ctx, name);
      const driver = await target.driver();
      planned.push({ target, driver, plan: await planWholeCluster('delete', name, { driver, signal: ctx.signal, ...(target.spec ? { spec: target.spec } : {}) }) });
    }
    for (const { plan } of planned) ctx.reporter.emit({ type: 'plan', plan });
    for (const { target, driver, plan } of planned) {
      if (ctx.signal.aborted) break;
      try {
        if (plan.steps.length === 0) await nothingToDelete(ctx, target.name, true);
        else await deleteLocked(ctx, target.name, (reporter, signal) => executeWholeCluster(plan, { driver, reporter, signal, ...(target.spec ? { spec: target.spec } : {}) }));
      } catch (err) {
        // One cluster failing (its lock held by an apply, a host down) does not keep the others; the first error decides the exit code.
        if (!(err instanceof MkError) || ctx.signal.aborted) throw err;
        ctx.reporter.emit({ type: 'error', cluster: target.name, message: err.message });
        failed ??= err;
      }
    }
  } finally {
    await Promise.all(planned.map(({ driver }) => driver.close?.()));
  }
  return ctx.signal.aborted ? EXIT.interrupted : (failed?.exitCode ?? EXIT.ok);
}
