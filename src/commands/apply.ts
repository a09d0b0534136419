// mk plan / mk apply: load every spec, then per cluster: (lock) → observe → diff → print → execute.
// The reconcile stack (runner, phases, xstate, the lock library) loads once the specs are valid: a
// spec with a mistake is reported without it.
import { driverFor } from '../drivers/index.js';
import { AbortedError, EXIT, MkError, StepError } from '../errors.js';
import { errorEvent, type Reporter } from '../log.js';
import { redact } from '../redact.js';
import { inSync } from '../plan.js';
import { loadSpecs } from '../spec/load.js';
import type { LoadedCluster } from '../spec/types.js';
import { clearStopped, loadStopped, saveLastApplied, saveLastRun, type LastRun } from '../state.js';
import type { CommandContext } from './context.js';

export async function plan(ctx: CommandContext, target: string, opts: { skipPreflight?: boolean } = {}): Promise<number> {
  const specs = await loadSpecs(target, { stdin: ctx.stdin });
  const { reconcile } = await import('../reconcile/runner.js');
  let pending = false;
  let unknown = false;
  for (const spec of specs) {
    const stopped = await loadStopped(spec.cluster.metadata.name);
    if (stopped) ctx.reporter.emit({ type: 'warning', cluster: spec.cluster.metadata.name, message: stoppedText(spec.cluster.metadata.name, stopped.at) });
    const driver = await driverFor(spec.cluster, ctx.reporter.debug.bind(ctx.reporter));
    try {
      const { plan } = await reconcile(spec.cluster, { driver, reporter: ctx.reporter, signal: ctx.signal, mode: 'plan', file: spec.file, skipPreflight: opts.skipPreflight ?? false });
      if (plan.steps.length > 0) pending = true;
      else if (!inSync(plan)) unknown = true;
    } finally {
      await driver.close?.();
    }
  }
  // Pending changes win; a plan that could not check everything is not "in sync" (exit 1, not 0).
  return pending ? EXIT.changesPending : unknown ? EXIT.error : EXIT.ok;
}

/** What plan, status and watch say of a cluster mk stop stopped. */
export function stoppedText(name: string, at: string): string {
  return `cluster "${name}" was stopped by mk stop at ${at}: mk start ${name} (or mk apply) starts it; mk watch leaves it alone`;
}

export interface ApplyOptions {
  concurrency: number;
  /** Make mk-NAME the current kubeconfig context when it is exported (default true). */
  switchContext?: boolean;
  /** Bring nodes up even where the host's preflight finds what would kill them (said in warnings). */
  skipPreflight?: boolean;
  /** A cluster mk stop stopped is left alone (mk watch); otherwise the apply starts it and forgets that it was stopped. */
  leaveStopped?: boolean;
}

/** How an apply ended: 'stopped': not run, the cluster was stopped by mk stop (leaveStopped). */
export type ApplyOutcome = 'done' | 'waiting' | 'stopped';

/**
 * Applies one loaded spec under the cluster lock. Shared by apply, start and watch. The attempt and how
 * it ended are recorded (last-run.json), so after a failed apply mk status says where it failed and mk
 * kubeconfig still finds the cluster.
 */
export async function applyOne(ctx: CommandContext, spec: LoadedCluster, opts: ApplyOptions): Promise<ApplyOutcome> {
  return withRunLog(ctx, spec.cluster.metadata.name, (reporter) => applyLocked({ ...ctx, reporter }, spec, opts));
}

/** Runs fn with ctx.reporter teed into the cluster's run log, which also records the error that ends it. */
export async function withRunLog<T>(ctx: CommandContext, cluster: string, fn: (reporter: Reporter) => Promise<T>): Promise<T> {
  const log = ctx.runLog(cluster);
  try {
    return await fn(log.tee(ctx.reporter));
  } catch (err) {
    log.failed(err);
    throw err;
  }
}

async function applyLocked(ctx: CommandContext, spec: LoadedCluster, opts: ApplyOptions): Promise<ApplyOutcome> {
  const [{ withClusterLock }, { reconcile }] = await Promise.all([import('../reconcile/lock.js'), import('../reconcile/runner.js')]);
  const name = spec.cluster.metadata.name;
  const run: LastRun = { spec: spec.cluster, ...(spec.file !== '-' ? { file: spec.file } : {}), startedAt: new Date().toISOString(), outcome: 'running' };
  const ended = (outcome: Omit<LastRun, 'spec' | 'startedAt'>) => saveLastRun({ ...run, ...outcome, finishedAt: new Date().toISOString() });
  return withClusterLock(name, ctx.signal, async (signal) => {
    // Read under the lock: an mk stop that ran a moment ago is seen.
    const stopped = await loadStopped(name);
    if (stopped && opts.leaveStopped) return 'stopped';
    if (stopped) {
      ctx.reporter.emit({ type: 'info', cluster: name, message: `cluster "${name}" was stopped by mk stop at ${stopped.at}: starting it` });
      await clearStopped(name);
    }
    await saveLastRun(run);
    const driver = await driverFor(spec.cluster, ctx.reporter.debug.bind(ctx.reporter));
    try {
      const { result } = await reconcile(spec.cluster, {
        driver,
        reporter: ctx.reporter,
        signal,
        mode: 'apply',
        file: spec.file,
        concurrency: opts.concurrency,
        skipPreflight: opts.skipPreflight ?? false,
        ...(opts.switchContext !== undefined ? { switchContext: opts.switchContext } : {}),
      });
      await saveLastApplied(spec.cluster);
      const outcome = result?.status === 'waiting' ? 'waiting' : 'done';
      await ended({ outcome });
      return outcome;
    } catch (err) {
      await ended({
        outcome: err instanceof AbortedError ? 'aborted' : 'failed',
        ...(err instanceof StepError ? { failedStep: err.stepId } : {}),
        error: redact(err instanceof Error ? err.message : String(err)),
      }).catch(() => undefined);
      throw err;
    } finally {
      await driver.close?.();
    }
  });
}

export async function apply(ctx: CommandContext, target: string, opts: ApplyOptions): Promise<number> {
  const specs = await loadSpecs(target, { stdin: ctx.stdin });
  let failed: MkError | undefined;
  let waiting = false;
  for (const spec of specs) {
    if (ctx.signal.aborted) break;
    try {
      if ((await applyOne(ctx, spec, opts)) === 'waiting') waiting = true;
    } catch (err) {
      // One cluster failing does not stop the others in a directory; the first error decides the exit code.
      if (specs.length === 1 || !(err instanceof MkError)) throw err;
      ctx.reporter.emit(errorEvent(err, spec.cluster.metadata.name));
      failed ??= err;
    }
  }
  if (failed) return failed.exitCode;
  return ctx.signal.aborted ? EXIT.interrupted : waiting ? EXIT.waiting : EXIT.ok;
}
