// The edge of the engine: observe -> plan -> (apply) run the machine with the real step actors,
// turning machine events into Reporter events and the outcome into a result or a typed error.
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import { createActor, toPromise } from 'xstate';
import type { Snapshot } from 'xstate';
import { AbortedError, StepError } from '../errors.js';
import type { Driver, ObservedCluster } from '../drivers/types.js';
import type { Reporter } from '../log.js';
import type { Plan, StepOutcome } from '../plan.js';
import type { Cluster } from '../spec/types.js';
import { resumeFrom, runMachine } from './machine.js';
import type { RunOutput, StepRecord } from './machine.js';
import { observePhases, planCluster, planDelete, planStop, resolveDesired, type ClusterPlan } from './phases.js';
import { schedule } from './schedule.js';
import { stepActors } from './steps.js';

/** Bump when RunContext changes shape; a snapshot with another version is ignored. */
export const RUN_SNAPSHOT_VERSION = 2;

export interface PersistedRun {
  version: number;
  cluster: string;
  /** The plan the run executes; a snapshot only resumes the very same plan. */
  planDigest: string;
  snapshot: Snapshot<unknown>;
}

export function planDigest(plan: Plan): string {
  return createHash('sha256').update(JSON.stringify(plan.steps)).digest('hex');
}

export interface RunResult {
  /** 'waiting': every step ended, but some wait for a prerequisite (and the steps after them with them). */
  status: 'done' | 'waiting' | 'failed' | 'aborted';
  ok: boolean;
  /** Per step id: outcome and timings. Steps never started have no record. */
  records: Record<string, StepRecord>;
  counts: Partial<Record<StepOutcome, number>>;
  durationMs: number;
}

export interface ExecuteOptions {
  driver: Driver;
  reporter: Reporter;
  signal?: AbortSignal;
  /** Parallel worker steps per stage (default 4). */
  concurrency?: number;
  /**
   * Resume a run saved by onSnapshot: finished steps are not run again, in-flight ones are. Ignored unless
   * it was saved for the same plan (version, cluster and plan digest match); then the run starts afresh.
   */
  resume?: PersistedRun;
  /** Called with a restorable snapshot after every change. */
  onSnapshot?: (persisted: PersistedRun) => void;
  /** The spec, for the bootstrap steps (kubeadm, network, kubeconfig, wait). */
  spec?: BootstrapSpec;
}

export interface BootstrapSpec {
  cluster: Cluster;
  /** Folder of the spec file. */
  specDir?: string;
  /** Make mk's kubeconfig context the current one (default true). */
  switchContext?: boolean;
}

function countOutcomes(records: Record<string, StepRecord>): Partial<Record<StepOutcome, number>> {
  const counts: Partial<Record<StepOutcome, number>> = {};
  for (const r of Object.values(records)) counts[r.outcome] = (counts[r.outcome] ?? 0) + 1;
  return counts;
}

function abortedError(signal: AbortSignal | undefined): AbortedError {
  const reason: unknown = signal?.reason;
  return new AbortedError(reason instanceof Error && reason.name !== 'AbortError' ? reason.message : 'interrupted');
}

/** Runs a plan. Resolves when every step ended (done or waiting); throws StepError on a failed step, AbortedError when aborted. */
export async function executePlan(plan: ClusterPlan, opts: ExecuteOptions): Promise<RunResult> {
  const { driver, reporter, signal } = opts;
  const cluster = plan.cluster;
  if (signal?.aborted) throw abortedError(signal);
  const started = Date.now();
  const run = opts.spec
    ? {
        cluster: opts.spec.cluster,
        startedAt: started,
        switchContext: opts.spec.switchContext ?? true,
        shared: new Map<string, unknown>(),
        ...(opts.spec.specDir ? { specDir: opts.spec.specDir } : {}),
      }
    : undefined;
  const machine = runMachine.provide({ actors: stepActors({ driver, cluster, reporter, ...(run ? { run } : {}) }) });
  const digest = planDigest(plan);
  const r = opts.resume;
  const resume = r?.version === RUN_SNAPSHOT_VERSION && r.cluster === cluster && r.planDigest === digest ? r : undefined;
  if (r && !resume) reporter.debug('saved run does not match this plan; starting afresh', { cluster });
  const stages = schedule(plan, opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {});
  // With a snapshot of a run still going, xstate restores from it and ignores the input.
  const actor = createActor(machine, resumeFrom(stages, resume?.snapshot));

  let firstError: unknown;
  actor.on('step.started', (e) => reporter.emit({ type: 'step.started', cluster, step: e.step }));
  actor.on('step.finished', (e) =>
    reporter.emit({ type: 'step.finished', cluster, step: e.step, outcome: e.outcome, durationMs: e.durationMs, ...(e.detail !== undefined ? { detail: e.detail } : {}) }),
  );
  actor.on('step.failed', (e) => {
    firstError ??= e.error;
    reporter.emit({ type: 'step.failed', cluster, step: e.step, durationMs: e.durationMs, error: e.error instanceof Error ? e.error.message : String(e.error) });
  });
  if (opts.onSnapshot) {
    const save = opts.onSnapshot;
    actor.subscribe({ next: () => save({ version: RUN_SNAPSHOT_VERSION, cluster, planDigest: digest, snapshot: actor.getPersistedSnapshot() }), error: () => {} });
  }
  const onAbort = (): void => actor.send({ type: 'ABORT' });
  signal?.addEventListener('abort', onAbort, { once: true });
  let out: RunOutput;
  try {
    actor.start();
    out = await toPromise(actor);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }

  const counts = countOutcomes(out.records);
  const status = out.status === 'running' ? 'failed' : out.status === 'done' && counts.waiting ? 'waiting' : out.status;
  const result: RunResult = { status, ok: status === 'done', records: out.records, counts, durationMs: Date.now() - started };
  reporter.emit({ type: 'summary', cluster, ok: result.ok, inSync: plan.steps.length === 0, counts: result.counts, durationMs: result.durationMs });
  if (status === 'aborted') throw abortedError(signal);
  if (status === 'failed') {
    const stepId = out.error?.stepId ?? 'unknown';
    throw new StepError(stepId, `step ${stepId} failed: ${out.error?.message ?? 'unknown error'}`, { cause: firstError });
  }
  return result;
}

export interface ReconcileOptions {
  driver: Driver;
  reporter: Reporter;
  signal?: AbortSignal;
  mode: 'plan' | 'apply';
  /** Spec file, recorded in the plan. */
  file?: string;
  concurrency?: number;
  /** Make mk's kubeconfig context the current one (default true). */
  switchContext?: boolean;
  /** Host problems found before nodes come up are warnings, not a refused plan. */
  skipPreflight?: boolean;
}

/** What planning compares the spec with: each phase's part of the actual state. */
export async function observeCluster(driver: Driver, cluster: Cluster, opts: { signal?: AbortSignal } = {}): Promise<ObservedCluster> {
  return observing(opts.signal, () => observePhases({ driver, cluster: cluster.metadata.name, spec: cluster, purpose: 'reconcile', ...(opts.signal ? { signal: opts.signal } : {}) }));
}

/** observe -> resolve the spec's files -> plan: the plan mk plan prints, mk status summarises and mk apply runs. */
export async function planFor(
  driver: Driver,
  cluster: Cluster,
  opts: { signal?: AbortSignal; file?: string; skipPreflight?: boolean } = {},
): Promise<{ actual: ObservedCluster; plan: () => ClusterPlan }> {
  const signal = opts.signal ? { signal: opts.signal } : {};
  const specDir = opts.file && opts.file !== '-' ? dirname(opts.file) : undefined;
  const actual = await observeCluster(driver, cluster, signal);
  const resolved = await observing(opts.signal, () => resolveDesired(cluster, actual, { ...signal, driver, ...(specDir ? { specDir } : {}) }));
  // Planning may refuse (PlanError): mk status still shows what it observed.
  return { actual, plan: () => planCluster(cluster, actual, { resolved, skipPreflight: opts.skipPreflight ?? false, ...(opts.file !== undefined ? { file: opts.file } : {}) }) };
}

/** Observation cut short by the signal is an interruption, whatever error the cut made. */
async function observing<T>(signal: AbortSignal | undefined, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (signal?.aborted) throw abortedError(signal);
    throw err;
  }
}

function executeOptions(opts: { driver: Driver; reporter: Reporter; signal?: AbortSignal; concurrency?: number }): ExecuteOptions {
  return {
    driver: opts.driver,
    reporter: opts.reporter,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
  };
}

/** observe -> plan -> emit the plan -> (apply) execute it. The plan printed is the plan executed. */
export async function reconcile(cluster: Cluster, opts: ReconcileOptions): Promise<{ plan: Plan; result?: RunResult }> {
  const { driver, reporter, signal } = opts;
  if (signal?.aborted) throw abortedError(signal);
  const plan = (
    await planFor(driver, cluster, { ...(signal ? { signal } : {}), ...(opts.file !== undefined ? { file: opts.file } : {}), skipPreflight: opts.skipPreflight ?? false })
  ).plan();
  const specDir = opts.file && opts.file !== '-' ? dirname(opts.file) : undefined;
  reporter.emit({ type: 'plan', plan });
  if (opts.mode === 'plan') return { plan };
  const spec: BootstrapSpec = {
    cluster,
    ...(specDir ? { specDir } : {}),
    ...(opts.switchContext !== undefined ? { switchContext: opts.switchContext } : {}),
  };
  const result = await executePlan(plan, { ...executeOptions(opts), spec });
  return { plan, result };
}

/** What a whole-cluster operation is given: the cluster's name, and its spec when mk knows it. */
export interface WholeClusterOptions {
  driver: Driver;
  reporter: Reporter;
  signal?: AbortSignal;
  concurrency?: number;
  spec?: Cluster;
}

/**
 * The plan of a whole-cluster operation: 'delete' removes everything mk owns for the cluster (found by
 * label); 'stop' stops every node that runs and keeps it. Only what the driver sees of the cluster is read.
 */
export async function planWholeCluster(operation: 'delete' | 'stop', name: string, opts: Omit<WholeClusterOptions, 'reporter' | 'concurrency'>): Promise<ClusterPlan> {
  const { driver, signal, spec } = opts;
  if (signal?.aborted) throw abortedError(signal);
  const actual = await observing(signal, () => observePhases({ driver, cluster: name, ...(spec ? { spec } : {}), purpose: operation, ...(signal ? { signal } : {}) }));
  return operation === 'delete' ? planDelete(actual, spec) : planStop(actual);
}

/** Runs a plan of planWholeCluster (the one that was printed). */
export function executeWholeCluster(plan: ClusterPlan, opts: WholeClusterOptions): Promise<RunResult> {
  return executePlan(plan, { ...executeOptions(opts), ...(opts.spec ? { spec: { cluster: opts.spec } } : {}) });
}

/** Plans, prints and runs a whole-cluster operation. Deleting a cluster that is gone, or stopping one that is stopped, is a no-op. */
export async function runWholeCluster(operation: 'delete' | 'stop', name: string, opts: WholeClusterOptions): Promise<{ plan: Plan; result: RunResult }> {
  const plan = await planWholeCluster(operation, name, opts);
  opts.reporter.emit({ type: 'plan', plan });
  return { plan, result: await executeWholeCluster(plan, opts) };
}
