// The run machine: executes a schedule stage by stage. Each step runs as a child actor named
// "runStep" (a placeholder here, provided at the edge by the runner and by tests). Pure state; all
// side effects live in the provided actor.
import type { Snapshot } from 'xstate';
import { assign, enqueueActions, fromPromise, setup } from 'xstate';
import type { PlannedStep, StepOutcome, StepResult } from '../plan.js';
import type { Schedule } from './schedule.js';

export interface StepInput {
  step: PlannedStep;
}

export interface StepRecord {
  id: string;
  outcome: StepOutcome;
  startedAt: number;
  finishedAt: number;
  durationMs: number;
  detail?: string;
  error?: string;
}

export type RunStatus = 'running' | 'done' | 'failed' | 'aborted';

export interface RunningStep {
  id: string;
  /** Position in the schedule: stages[stage].steps[index]. */
  stage: number;
  index: number;
  startedAt: number;
}

export interface RunContext {
  stages: Schedule;
  /** Index of the stage being worked on. */
  stage: number;
  /** Index in the current stage of the next step to start (steps start in stage order). */
  cursor: number;
  /** Steps in flight; their child actors have the step id as actor id. */
  running: RunningStep[];
  /** Finished steps, append-only, in chunks so recording one copies at most one chunk (runs of thousands of steps). */
  finished: StepRecord[][];
  /** Steps that ended waiting for a prerequisite: the steps that depend on them wait too, without running. */
  waiting: string[];
  /** The first failure. */
  error?: { stepId: string; message: string };
  status: RunStatus;
}

export interface RunOutput {
  status: RunStatus;
  /** By step id; steps never started have no record. */
  records: Record<string, StepRecord>;
  error?: { stepId: string; message: string };
}

export type RunEvent =
  | { type: 'ABORT' }
  | { type: `xstate.done.actor.${string}`; actorId: string; output: StepResult }
  | { type: `xstate.error.actor.${string}`; actorId: string; error: unknown };

/** Emitted as steps start and end; the runner turns them into Reporter events. */
export type RunEmitted =
  | { type: 'step.started'; step: PlannedStep }
  | { type: 'step.finished'; step: PlannedStep; outcome: Exclude<StepOutcome, 'failed'>; durationMs: number; detail?: string }
  | { type: 'step.failed'; step: PlannedStep; durationMs: number; error: unknown };

const CHUNK = 256;

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Every finished step by id. */
export function stepRecords(context: Pick<RunContext, 'finished'>): Record<string, StepRecord> {
  const out: Record<string, StepRecord> = {};
  for (const chunk of context.finished) for (const r of chunk) out[r.id] = r;
  return out;
}

function stepAt(context: RunContext, r: RunningStep): PlannedStep {
  return context.stages[r.stage]!.steps[r.index]!;
}

function stageFinished(context: RunContext): boolean {
  return context.running.length === 0 && context.cursor >= (context.stages[context.stage]?.steps.length ?? 0);
}

/** Moves a running step to the finished log. */
function finish(
  context: RunContext,
  id: string,
  outcome: StepOutcome,
  extra: { detail?: string; error?: string },
): { update: Pick<RunContext, 'finished' | 'running'>; step: PlannedStep; record: StepRecord } | undefined {
  const r = context.running.find((x) => x.id === id);
  if (!r) return undefined;
  const now = Date.now();
  const record: StepRecord = { id, outcome, startedAt: r.startedAt, finishedAt: now, durationMs: now - r.startedAt, ...extra };
  return { update: { finished: appended(context.finished, record), running: context.running.filter((x) => x !== r) }, step: stepAt(context, r), record };
}

/** Appends a record to the chunked log. */
function appended(finished: StepRecord[][], record: StepRecord): StepRecord[][] {
  const last = finished.at(-1);
  return last && last.length < CHUNK ? [...finished.slice(0, -1), [...last, record]] : [...finished, [record]];
}

export const runMachine = setup({
  types: {
    context: {} as RunContext,
    events: {} as RunEvent,
    input: {} as { schedule: Schedule },
    emitted: {} as RunEmitted,
    output: {} as RunOutput,
  },
  actors: {
    runStep: fromPromise<StepResult, StepInput>(() => {
      throw new Error('runStep not provided: the runner (or the test) must provide it with machine.provide()');
    }),
  },
  guards: {
    allFinished: ({ context }) => stageFinished(context) && context.stage >= context.stages.length - 1,
    stageFinished: ({ context }) => stageFinished(context),
    nothingRunning: ({ context }) => context.running.length === 0,
  },
  actions: {
    startSteps: enqueueActions(({ context, enqueue }) => {
      const stage = context.stages[context.stage];
      if (!stage) return;
      const now = Date.now();
      const started: RunningStep[] = [];
      let { cursor, finished, waiting } = context;
      while (cursor < stage.steps.length && context.running.length + started.length < stage.concurrency) {
        const index = cursor++;
        const step = stage.steps[index]!;
        // A step whose prerequisite waits cannot run either: it waits, with the step it waits for.
        const blocker = step.dependsOn.find((d) => waiting.includes(d));
        if (blocker !== undefined) {
          const detail = `waiting for ${blocker}`;
          finished = appended(finished, { id: step.id, outcome: 'waiting', startedAt: now, finishedAt: now, durationMs: 0, detail });
          waiting = [...waiting, step.id];
          enqueue.emit({ type: 'step.finished', step, outcome: 'waiting', durationMs: 0, detail });
          continue;
        }
        enqueue.spawnChild('runStep', { id: step.id, input: { step } });
        enqueue.emit({ type: 'step.started', step });
        started.push({ id: step.id, stage: context.stage, index, startedAt: now });
      }
      if (cursor === context.cursor) return;
      enqueue.assign({ cursor, finished, waiting, running: [...context.running, ...started] });
    }),
    nextStage: assign({ stage: ({ context }) => context.stage + 1, cursor: 0 }),
    recordDone: enqueueActions(({ context, event, enqueue }) => {
      if (!('output' in event)) return;
      const { outcome, detail } = event.output;
      const done = finish(context, event.actorId, outcome, detail !== undefined ? { detail } : {});
      if (!done) return;
      enqueue.stopChild(event.actorId);
      enqueue.assign(outcome === 'waiting' ? { ...done.update, waiting: [...context.waiting, event.actorId] } : done.update);
      enqueue.emit({ type: 'step.finished', step: done.step, outcome, durationMs: done.record.durationMs, ...(detail !== undefined ? { detail } : {}) });
    }),
    recordFailure: enqueueActions(({ context, event, enqueue }) => {
      if (!('error' in event)) return;
      const failed = finish(context, event.actorId, 'failed', { error: message(event.error) });
      if (!failed) return;
      enqueue.stopChild(event.actorId);
      enqueue.assign({ ...failed.update, error: context.error ?? { stepId: event.actorId, message: message(event.error) } });
      enqueue.emit({ type: 'step.failed', step: failed.step, durationMs: failed.record.durationMs, error: event.error });
    }),
    abortRunning: enqueueActions(({ context, enqueue }) => {
      let current = context;
      for (const r of context.running) {
        enqueue.stopChild(r.id);
        const aborted = finish(current, r.id, 'aborted', {});
        if (!aborted) continue;
        current = { ...current, ...aborted.update };
        enqueue.emit({ type: 'step.finished', step: aborted.step, outcome: 'aborted', durationMs: aborted.record.durationMs });
      }
      enqueue.assign({ finished: current.finished, running: current.running });
    }),
    markStatus: assign((_, params: { status: RunStatus }) => ({ status: params.status })),
  },
}).createMachine({
  id: 'run',
  context: ({ input }) => ({ stages: input.schedule, stage: 0, cursor: 0, running: [], finished: [], waiting: [], status: 'running' }),
  initial: 'running',
  states: {
    running: {
      entry: 'startSteps',
      always: [
        { guard: 'allFinished', target: 'done' },
        { guard: 'stageFinished', actions: ['nextStage', 'startSteps'] },
      ],
      on: {
        'xstate.done.actor.*': { actions: ['recordDone', 'startSteps'] },
        // A failure stops new steps; the ones in flight finish first.
        'xstate.error.actor.*': { target: 'draining', actions: 'recordFailure' },
        ABORT: { target: 'aborted', actions: 'abortRunning' },
      },
    },
    draining: {
      always: { guard: 'nothingRunning', target: 'failed' },
      on: {
        'xstate.done.actor.*': { actions: 'recordDone' },
        'xstate.error.actor.*': { actions: 'recordFailure' },
        ABORT: { target: 'aborted', actions: 'abortRunning' },
      },
    },
    done: { type: 'final', entry: { type: 'markStatus', params: { status: 'done' } } },
    failed: { type: 'final', entry: { type: 'markStatus', params: { status: 'failed' } } },
    aborted: { type: 'final', entry: { type: 'markStatus', params: { status: 'aborted' } } },
  },
  output: ({ context }) => ({ status: context.status, records: stepRecords(context), ...(context.error ? { error: context.error } : {}) }),
});

export type RunMachine = typeof runMachine;

/** Outcomes that need no second run; a waiting step runs again. */
const FINISHED: ReadonlySet<string> = new Set(['done', 'skipped']);

/**
 * How to start a run, given a saved snapshot: one that was still running resumes where it was (the
 * steps in flight run again); one that ended failed or aborted starts afresh on the steps that did
 * not finish, so finished steps are not run again. No snapshot: the whole schedule.
 */
export function resumeFrom(stages: Schedule, snapshot?: Snapshot<unknown>): { input: { schedule: Schedule }; snapshot?: Snapshot<unknown> } {
  const saved = snapshot as { status?: string; context?: Pick<RunContext, 'finished' | 'status'> } | undefined;
  if (!saved) return { input: { schedule: stages } };
  if (saved.status !== 'done' || !saved.context || saved.context.status === 'done') return { input: { schedule: stages }, snapshot };
  const records = stepRecords(saved.context);
  const left = stages
    .map((st) => ({ ...st, steps: st.steps.filter((x) => !FINISHED.has(records[x.id]?.outcome ?? '')) }))
    .filter((st) => st.steps.length > 0);
  return { input: { schedule: left } };
}
