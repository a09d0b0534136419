import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, toPromise, waitFor } from 'xstate';
import { runMachine, stepRecords } from '../../src/reconcile/machine.js';
import type { StepResult } from '../../src/plan.js';
import type { RunEmitted, StepInput } from '../../src/reconcile/machine.js';
import type { ClusterStep as PlannedStep } from '../../src/reconcile/phases.js';
import type { Schedule } from '../../src/reconcile/schedule.js';

const step = (id: string): PlannedStep => ({
  id,
  step: { kind: 'volume.remove', volume: id },
  action: 'remove',
  description: `step ${id}`,
  reason: 'test',
  dependsOn: [],
});
const stage = (concurrency: number, ...ids: string[]) => ({ concurrency, steps: ids.map(step) });

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new Error('aborted'));
    });
  });

/** A fake step actor: behaviour per step id, with a log of starts/ends and in-flight accounting. */
function fakes(behave: (id: string, signal: AbortSignal) => Promise<StepResult> = () => Promise.resolve({ outcome: 'done' })) {
  const log: string[] = [];
  const signals = new Map<string, AbortSignal>();
  const calls = new Map<string, number>();
  const state = { inFlight: 0, maxInFlight: 0 };
  const runStep = fromPromise<StepResult, StepInput>(async ({ input, signal }) => {
    const id = input.step.id;
    calls.set(id, (calls.get(id) ?? 0) + 1);
    signals.set(id, signal);
    log.push(`start ${id}`);
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    try {
      return await behave(id, signal);
    } finally {
      state.inFlight--;
      log.push(`end ${id}`);
    }
  });
  return { machine: runMachine.provide({ actors: { runStep } }), log, signals, calls, state };
}

const start = (machine: ReturnType<typeof fakes>['machine'], schedule: Schedule) => {
  const actor = createActor(machine, { input: { schedule } });
  const emitted: RunEmitted[] = [];
  actor.on('*', (e) => emitted.push(e));
  actor.start();
  return { actor, emitted };
};

describe('run machine', () => {
  it('runs stages in order and records each outcome with timings', async () => {
    const f = fakes(async (id) => {
      await sleep(id === 'a' ? 15 : 1);
      return id === 'c' ? { outcome: 'waiting', detail: 'later' } : { outcome: id === 'b' ? 'skipped' : 'done' };
    });
    const { actor, emitted } = start(f.machine, [stage(2, 'a', 'b'), stage(1, 'c')]);
    const out = await toPromise(actor);
    expect(actor.getSnapshot().value).toBe('done');
    expect(out.status).toBe('done');
    // c starts only after both a and b ended, although b ended long before a.
    expect(f.log.indexOf('start c')).toBeGreaterThan(f.log.indexOf('end a'));
    expect(f.log.slice(0, 2)).toEqual(['start a', 'start b']);
    expect(out.records.a).toMatchObject({ outcome: 'done' });
    expect(out.records.a!.durationMs).toBeGreaterThanOrEqual(10);
    expect(out.records.b!.outcome).toBe('skipped');
    expect(out.records.c).toMatchObject({ outcome: 'waiting', detail: 'later' });
    expect(emitted.map((e) => `${e.type} ${e.step.id}`)).toEqual([
      'step.started a',
      'step.started b',
      'step.finished b',
      'step.finished a',
      'step.started c',
      'step.finished c',
    ]);
  });

  it('a waiting step holds back the steps that depend on it (recorded waiting, never started); the others run', async () => {
    const f = fakes(async (id) => (id === 'cp' ? { outcome: 'waiting', detail: 'node cp is exited' } : { outcome: 'done' }));
    const after = (id: string, ...deps: string[]): PlannedStep => ({ ...step(id), dependsOn: deps });
    const { actor, emitted } = start(f.machine, [
      { concurrency: 2, steps: [step('cp'), step('w')] },
      { concurrency: 2, steps: [after('join', 'cp'), after('other', 'w')] },
      { concurrency: 1, steps: [after('wait', 'join', 'other')] },
    ]);
    const out = await toPromise(actor);
    expect(out.status).toBe('done');
    expect(f.log.filter((l) => l.startsWith('start'))).toEqual(['start cp', 'start w', 'start other']);
    expect(out.records.join).toMatchObject({ outcome: 'waiting', detail: 'waiting for cp' });
    expect(out.records.wait).toMatchObject({ outcome: 'waiting', detail: 'waiting for join' });
    expect(out.records.other!.outcome).toBe('done');
    expect(emitted.filter((e) => e.type === 'step.finished' && e.outcome === 'waiting').map((e) => e.step.id)).toEqual(['cp', 'join', 'wait']);
  });

  it('an empty schedule is done at once', async () => {
    const { actor } = start(fakes().machine, []);
    expect((await toPromise(actor)).status).toBe('done');
  });

  it('respects the stage concurrency (measured max in flight)', async () => {
    const f = fakes(async () => {
      await sleep(5);
      return { outcome: 'done' };
    });
    const ids = Array.from({ length: 12 }, (_, i) => `s${i}`);
    const { actor } = start(f.machine, [stage(3, ...ids), stage(1, 'x', 'y', 'z')]);
    const out = await toPromise(actor);
    expect(Object.values(out.records).every((r) => r.outcome === 'done')).toBe(true);
    expect(f.calls.size).toBe(15);
    expect(f.state.maxInFlight).toBe(3);
  });

  it('a failure starts no new step, lets in-flight steps finish, and ends failed', async () => {
    const f = fakes(async (id) => {
      if (id === 'b') {
        await sleep(2);
        throw new Error('boom');
      }
      await sleep(20);
      return { outcome: 'done' };
    });
    const { actor, emitted } = start(f.machine, [stage(2, 'a', 'b', 'c', 'd'), stage(1, 'e')]);
    const out = await toPromise(actor);
    expect(actor.getSnapshot().value).toBe('failed');
    expect(out.status).toBe('failed');
    expect(out.error).toEqual({ stepId: 'b', message: 'boom' });
    expect(out.records.a!.outcome).toBe('done'); // in flight when b failed: finished, not cut off
    expect(out.records.b).toMatchObject({ outcome: 'failed', error: 'boom' });
    expect([...f.calls.keys()].sort()).toEqual(['a', 'b']);
    expect(emitted.find((e) => e.type === 'step.failed')).toMatchObject({ step: { id: 'b' } });
  });

  it('without a provided runStep the run fails with a clear message', async () => {
    const actor = createActor(runMachine, { input: { schedule: [stage(1, 'a')] } }).start();
    const out = await toPromise(actor);
    expect(out.status).toBe('failed');
    expect(out.error?.message).toMatch(/not provided/);
  });

  it('ABORT stops new steps, aborts running ones (their signal fires) and ends aborted', async () => {
    const f = fakes(async (_id, signal) => {
      await sleep(10_000, signal);
      return { outcome: 'done' };
    });
    const { actor, emitted } = start(f.machine, [stage(2, 'a', 'b', 'c'), stage(1, 'd')]);
    await waitFor(actor, (s) => s.context.running.length === 2);
    actor.send({ type: 'ABORT' });
    const out = await toPromise(actor);
    expect(actor.getSnapshot().value).toBe('aborted');
    expect(out.status).toBe('aborted');
    expect(f.signals.get('a')!.aborted).toBe(true);
    expect(f.signals.get('b')!.aborted).toBe(true);
    expect(f.calls.has('c')).toBe(false);
    expect(out.records.a!.outcome).toBe('aborted');
    expect(emitted.filter((e) => e.type === 'step.finished').map((e) => e.type === 'step.finished' && e.outcome)).toEqual(['aborted', 'aborted']);
  });

  it('resumes from a persisted snapshot without re-running finished steps', async () => {
    // First run: a and b finish, c hangs; then the process "crashes".
    const first = fakes(async (id, signal) => {
      if (id === 'c') await sleep(10_000, signal);
      return { outcome: 'done' };
    });
    const schedule = [stage(1, 'a'), stage(2, 'b', 'c'), stage(1, 'd')];
    const { actor } = start(first.machine, schedule);
    await waitFor(actor, (s) => stepRecords(s.context).b?.outcome === 'done' && s.context.running.some((r) => r.id === 'c'));
    const persisted = JSON.parse(JSON.stringify(actor.getPersistedSnapshot())) as ReturnType<typeof actor.getPersistedSnapshot>;
    actor.stop();

    const second = fakes();
    const resumed = createActor(second.machine, { snapshot: persisted, input: { schedule } }).start();
    const out = await toPromise(resumed);
    expect(out.status).toBe('done');
    expect(second.calls.has('a')).toBe(false);
    expect(second.calls.has('b')).toBe(false);
    expect(second.calls.get('c')).toBe(1); // in flight at the crash: run again (steps are idempotent)
    expect(second.calls.get('d')).toBe(1);
    expect(Object.keys(out.records).sort()).toEqual(['a', 'b', 'c', 'd']);
  });
});
