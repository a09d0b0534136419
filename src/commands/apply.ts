// mk plan / mk apply: load every spec, then per cluster: (lock) → observe → diff → print → execute.
import { driverFor } from '../drivers/index.js';
import { AbortedError, EXIT, MkError, StepError } from '../errors.js';
import { errorEvent, type Reporter } from '../log.js';
import { redact } from '../redact.js';
import { withClusterLock } from '../reconcile/lock.js';
import { inSync } from '../plan.js';
import { reconcile } from '../reconcile/runner.js';
import { loadSpecs } from '../spec/load.js';
import type { LoadedCluster } from '../spec/types.js';
import { saveLastApplied, saveLastRun, type LastRun } from '../state.js';
import type { CommandContext } from './context.js';

export async function plan(ctx: CommandContext, target: string, opts: { skipPreflight?: boolean } = {}): Promise<number> {
  const specs = await loadSpecs(target, { stdin: ctx.stdin });
  let pending = false;
  let unknown = false;
  for (const spec of specs) {
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

export interface ApplyOptions {
  concurrency: number;
  /** Make mk-NAME the current kubeconfig context when it is exported (default true). */
  switchContext?: boolean;
  /** Bring nodes up even where the host's preflight finds what would kill them (said in warnings). */
  skipPreflight?: boolean;
}

/**
 * Applies one loaded spec under the cluster lock. Shared by apply and watch. Resolves true when steps
 * wait for a prerequisite. The attempt and how it ended are recorded (last-run.json), so after a
 * failed apply mk status says where it failed and mk kubeconfig still finds the cluster.
 */
export async function applyOne(ctx: CommandContext, spec: LoadedCluster, opts: ApplyOptions): Promise<boolean> {
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

function applyLocked(ctx: CommandContext, spec: LoadedCluster, opts: ApplyOptions): Promise<boolean> {
  const run: LastRun = { spec: spec.cluster, ...(spec.file !== '-' ? { file: spec.file } : {}), startedAt: new Date().toISOString(), outcome: 'running' };
  const ended = (outcome: Omit<LastRun, 'spec' | 'startedAt'>) => saveLastRun({ ...run, ...outcome, finishedAt: new Date().toISOString() });
  return withClusterLock(spec.cluster.metadata.name, ctx.signal, async (signal) => {
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
      await ended({ outcome: result?.status === 'waiting' ? 'waiting' : 'done' });
      return result?.status === 'waiting';
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
      if (await applyOne(ctx, spec, opts)) waiting = true;
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
