import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mergeTriggers, ReconcileLoop, type Trigger } from '../../src/reconcile/watch.js';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('ReconcileLoop', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('debounces a burst of saves into one run with every changed file', async () => {
    const runs: Trigger[] = [];
    const loop = new ReconcileLoop({ debounceMs: 75, intervalMs: 60_000, run: async (t) => void runs.push(t) });
    loop.fileChanged('/a.yaml');
    await vi.advanceTimersByTimeAsync(50);
    loop.fileChanged('/a.yaml');
    loop.fileChanged('/b.yaml');
    await vi.advanceTimersByTimeAsync(74);
    expect(runs).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await loop.idle();
    expect(runs).toEqual([{ kind: 'change', files: ['/a.yaml', '/b.yaml'] }]);
    await loop.stop();
  });

  it('is busy only while a run is in flight (a Ctrl-C between runs interrupts nothing)', async () => {
    const gate = deferred();
    const loop = new ReconcileLoop({ debounceMs: 10, intervalMs: 60_000, run: () => gate.promise });
    expect(loop.busy).toBe(false);
    loop.start();
    expect(loop.busy).toBe(true);
    gate.resolve();
    await loop.idle();
    expect(loop.busy).toBe(false);
    loop.fileChanged('/a.yaml'); // waiting out its debounce: still nothing runs
    expect(loop.busy).toBe(false);
    await loop.stop();
  });

  it('runs one reconcile at a time and coalesces saves during a run into one follow-up', async () => {
    const gate = deferred();
    const runs: Trigger[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const loop = new ReconcileLoop({
      debounceMs: 10,
      intervalMs: 60_000,
      run: async (t) => {
        runs.push(t);
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        if (runs.length === 1) await gate.promise;
        inFlight--;
      },
    });
    loop.start(); // first run blocks on the gate
    for (const f of ['/x.yaml', '/y.yaml', '/x.yaml']) {
      loop.fileChanged(f);
      await vi.advanceTimersByTimeAsync(20);
    }
    expect(runs).toHaveLength(1);
    gate.resolve();
    await vi.advanceTimersByTimeAsync(0);
    await loop.idle();
    expect(runs).toEqual([{ kind: 'start' }, { kind: 'change', files: ['/x.yaml', '/y.yaml'] }]);
    expect(maxInFlight).toBe(1);
    await loop.stop();
  });

  it('re-observes on the interval and keeps going after a failed run', async () => {
    const errors: unknown[] = [];
    let n = 0;
    const loop = new ReconcileLoop({
      debounceMs: 10,
      intervalMs: 1000,
      run: async () => {
        n++;
        if (n === 2) throw new Error('boom');
      },
      onError: (e) => errors.push(e),
    });
    loop.start();
    await vi.advanceTimersByTimeAsync(3000);
    await loop.idle();
    expect(n).toBe(4); // start + 3 ticks
    expect(errors).toHaveLength(1);
    await loop.stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(n).toBe(4);
  });

  it('skips a drift check while a save waits out its debounce', async () => {
    const runs: Trigger[] = [];
    const loop = new ReconcileLoop({ debounceMs: 300, intervalMs: 1000, run: async (t) => void runs.push(t) });
    loop.start();
    await vi.advanceTimersByTimeAsync(900);
    loop.fileChanged('/a.yaml');
    await vi.advanceTimersByTimeAsync(200); // the tick at 1000 ms falls inside the debounce
    await loop.idle();
    expect(runs).toEqual([{ kind: 'start' }]);
    await vi.advanceTimersByTimeAsync(100);
    await loop.idle();
    expect(runs).toEqual([{ kind: 'start' }, { kind: 'change', files: ['/a.yaml'] }]);
    await vi.advanceTimersByTimeAsync(900); // the tick at 2000 ms runs again
    await loop.idle();
    expect(runs.at(-1)).toEqual({ kind: 'interval' });
    await loop.stop();
  });

  it('stop() waits for the running reconcile and ignores later saves', async () => {
    const gate = deferred();
    let finished = false;
    const loop = new ReconcileLoop({
      debounceMs: 10,
      intervalMs: 60_000,
      run: async () => {
        await gate.promise;
        finished = true;
      },
    });
    loop.start();
    const stopping = loop.stop();
    loop.fileChanged('/late.yaml');
    gate.resolve();
    await stopping;
    expect(finished).toBe(true);
    await vi.advanceTimersByTimeAsync(100);
    expect(loop.runs).toBe(1);
  });
});

describe('mergeTriggers', () => {
  it('lets a change outrank a drift check and unions files', () => {
    expect(mergeTriggers(undefined, { kind: 'interval' })).toEqual({ kind: 'interval' });
    expect(mergeTriggers({ kind: 'interval' }, { kind: 'change', files: ['/a'] })).toEqual({ kind: 'change', files: ['/a'] });
    expect(mergeTriggers({ kind: 'change', files: ['/b'] }, { kind: 'interval' })).toEqual({ kind: 'change', files: ['/b'] });
    expect(mergeTriggers({ kind: 'change', files: ['/b'] }, { kind: 'change', files: ['/a', '/b'] })).toEqual({ kind: 'change', files: ['/a', '/b'] });
  });
});
