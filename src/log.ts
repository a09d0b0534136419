// Output channels. Reporter: one status line per step for people, NDJSON events for machines.
// Implementations live in src/output/reporters.ts; the engine only sees this interface.
import { MkError, SpecError, StepError } from './errors.js';
import type { Plan, PlannedStep, StepOutcome } from './plan.js';

export type MkEvent =
  | { type: 'plan'; plan: Plan }
  | { type: 'step.started'; cluster: string; step: PlannedStep }
  | { type: 'step.finished'; cluster: string; step: PlannedStep; outcome: Exclude<StepOutcome, 'failed'>; durationMs: number; detail?: string }
  | { type: 'step.failed'; cluster: string; step: PlannedStep; durationMs: number; error: string }
  /** How far a step that moves data has come (an image load into a node), about once a second while it runs. */
  | { type: 'progress'; cluster: string; id: string; bytes: number; totalBytes?: number; elapsedMs: number }
  | { type: 'summary'; cluster: string; ok: boolean; inSync: boolean; counts: Partial<Record<StepOutcome, number>>; durationMs: number }
  | { type: 'info'; cluster?: string; message: string }
  | { type: 'warning'; cluster?: string; message: string }
  /** step: the failed step whose step.failed event carried this error already (text output does not print it twice). */
  | { type: 'error'; cluster?: string; message: string; problems?: unknown[]; step?: string };

export type ErrorEvent = Extract<MkEvent, { type: 'error' }>;

/**
 * The event for an error that ends a command, or one cluster's run: an invalid spec with its
 * problems, a failed step (a run throws StepError only after reporting the step's failure), mk's
 * own errors as they are, anything else as unexpected.
 */
export function errorEvent(err: unknown, cluster?: string): ErrorEvent {
  const where = cluster !== undefined ? { cluster } : {};
  if (err instanceof SpecError) {
    const n = err.problems.length;
    return { type: 'error', ...where, message: `invalid spec (${n} problem${n === 1 ? '' : 's'}):\n${err.message}`, problems: err.problems };
  }
  if (err instanceof StepError) return { type: 'error', ...where, message: err.message, step: err.stepId };
  if (err instanceof MkError) return { type: 'error', ...where, message: err.message };
  return { type: 'error', ...where, message: err instanceof Error ? `unexpected error: ${err.message}` : String(err) };
}

/** "12.3/104.9 MB at 38.1 MB/s": decimal megabytes, as docker prints sizes; for progress events and the lines of the steps that send them. */
export function formatTransfer(bytes: number, elapsedMs: number, totalBytes?: number): string {
  const mb = (n: number) => (n / 1e6).toFixed(1);
  return `${mb(bytes)}${totalBytes ? `/${mb(totalBytes)}` : ''} MB${elapsedMs > 0 ? ` at ${mb((bytes * 1000) / elapsedMs)} MB/s` : ''}`;
}

export interface Reporter {
  emit(event: MkEvent): void;
  /** Debug detail (shown at -v); always passed through redaction. */
  debug(message: string, context?: Record<string, unknown>): void;
}

/** A reporter that records events; for tests and for composing. */
export class RecordingReporter implements Reporter {
  readonly events: MkEvent[] = [];
  readonly debugLines: string[] = [];
  emit(event: MkEvent): void {
    this.events.push(event);
  }
  debug(message: string): void {
    this.debugLines.push(message);
  }
}
