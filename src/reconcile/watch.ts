// The watch loop: turns file saves and periodic drift checks into reconcile runs.
// One run at a time; saves during a run are coalesced into one follow-up run; a debounce
// absorbs editors' write-temp-then-rename saves. No I/O here: runs and timers are injected.

export type Trigger =
  | { kind: 'start' }
  | { kind: 'change'; files: string[] }
  | { kind: 'interval' };

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
};

export interface ReconcileLoopOptions {
  debounceMs: number;
  intervalMs: number;
  /** One reconcile. It reports its own errors; a rejection is passed to onError and the loop goes on. */
  run: (trigger: Trigger) => Promise<void>;
  onError?: (err: unknown) => void;
  timers?: Timers;
}

/** Coalesces triggers that arrive during a run: changes merge; a change outranks a drift check. */
export function mergeTriggers(a: Trigger | undefined, b: Trigger): Trigger {
  if (!a) return b;
  if (a.kind === 'change' && b.kind === 'change') return { kind: 'change', files: [...new Set([...a.files, ...b.files])].sort() };
  if (b.kind === 'change') return b;
  return a;
}

export class ReconcileLoop {
  private readonly timers: Timers;
  private debounceHandle: unknown;
  private intervalHandle: unknown;
  private changed = new Set<string>();
  private running: Promise<void> | undefined;
  private pending: Trigger | undefined;
  private stopped = false;
  /** Number of runs started; for tests and status lines. */
  runs = 0;

  constructor(private readonly opts: ReconcileLoopOptions) {
    this.timers = opts.timers ?? realTimers;
  }

  start(): void {
    this.trigger({ kind: 'start' });
    this.intervalHandle = this.timers.setInterval(() => {
      // A save waiting out its debounce will reconcile anyway; a drift check now would apply the
      // new spec under the wrong name.
      if (this.debounceHandle === undefined) this.trigger({ kind: 'interval' });
    }, this.opts.intervalMs);
  }

  /** Whether a run is in flight (between runs, a stop interrupts nothing). */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /** A watched file changed; reconciles once the debounce window is quiet. */
  fileChanged(file: string): void {
    if (this.stopped) return;
    this.changed.add(file);
    if (this.debounceHandle !== undefined) this.timers.clearTimeout(this.debounceHandle);
    this.debounceHandle = this.timers.setTimeout(() => {
      this.debounceHandle = undefined;
      const files = [...this.changed].sort();
      this.changed.clear();
      this.trigger({ kind: 'change', files });
    }, this.opts.debounceMs);
  }

  private trigger(t: Trigger): void {
    if (this.stopped) return;
    if (this.running) {
      this.pending = mergeTriggers(this.pending, t);
      return;
    }
    this.runs++;
    this.running = this.opts
      .run(t)
      .catch((err: unknown) => this.opts.onError?.(err))
      .finally(() => {
        this.running = undefined;
        const next = this.pending;
        this.pending = undefined;
        if (next) this.trigger(next);
      });
  }

  /** Stops timers and waits for the running reconcile (which the caller aborts via its signal). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.debounceHandle !== undefined) this.timers.clearTimeout(this.debounceHandle);
    if (this.intervalHandle !== undefined) this.timers.clearInterval(this.intervalHandle);
    this.pending = undefined;
    while (this.running) await this.running;
  }

  /** Resolves when no run is in flight or pending (for tests). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }
}
