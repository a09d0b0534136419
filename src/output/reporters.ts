// Reporter implementations: text for people (one line per step with its duration, a spinner only
// on a TTY) and events for machines (NDJSON, or a YAML stream with -o yaml). Every string passes
// through redact() before it is written.
import pc from 'picocolors';
import type { Ora } from 'ora';
import { formatTransfer, type MkEvent, type Reporter } from '../log.js';
import type { StepOutcome } from '../plan.js';
import { formatDuration } from '../duration.js';
import { redact, redactDeep } from '../redact.js';
import { formatStreamEvent, machineFormat, type MachineFormat, type OutputFormat } from './format.js';
import { formatPlan } from './plan-text.js';

export interface Sink {
  out: (line: string) => void;
  err: (line: string) => void;
}

export const processSink: Sink = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
};


const MARK: Record<StepOutcome, string> = {
  done: pc.green('✓'),
  skipped: pc.dim('='),
  waiting: pc.yellow('…'),
  failed: pc.red('✗'),
  aborted: pc.yellow('!'),
};

const OUTCOME_TEXT: Record<StepOutcome, string> = {
  done: '',
  skipped: 'already done',
  waiting: 'waiting',
  failed: 'failed',
  aborted: 'aborted',
};

export class TextReporter implements Reporter {
  private readonly running = new Map<string, string>();
  /** Descriptions of running steps, for the spinner text their progress is added to. */
  private readonly described = new Map<string, string>();
  private spinner: Ora | undefined;

  constructor(
    private readonly opts: {
      verbose: number;
      tty: boolean;
      sink?: Sink;
      createSpinner?: () => Ora;
      /** Start every line with the local time (HH:MM:SS), for commands that run for long (mk watch). */
      timestamps?: boolean;
      now?: () => Date;
    },
  ) {}

  private get sink(): Sink {
    return this.opts.sink ?? processSink;
  }

  /** Writes a line without tearing the spinner. */
  private line(text: string, stream: 'out' | 'err' = 'out'): void {
    this.spinner?.clear();
    this.sink[stream](redact(this.opts.timestamps ? stamped(text, this.opts.now?.() ?? new Date()) : text));
    this.refreshSpinner();
  }

  private refreshSpinner(): void {
    if (!this.opts.tty || !this.opts.createSpinner) return;
    if (this.running.size === 0) {
      this.spinner?.stop();
      this.spinner = undefined;
      return;
    }
    this.spinner ??= this.opts.createSpinner();
    this.spinner.text = redact([...this.running.values()].join(', '));
    if (!this.spinner.isSpinning) this.spinner.start();
    else this.spinner.render();
  }

  emit(e: MkEvent): void {
    switch (e.type) {
      case 'plan':
        this.line(formatPlan(e.plan));
        return;
      case 'step.started':
        this.running.set(e.step.id, e.step.description);
        this.described.set(e.step.id, e.step.description);
        if (this.opts.verbose > 0) this.line(pc.dim(`… ${e.step.description}`), 'err');
        else this.refreshSpinner();
        return;
      case 'progress': {
        const what = this.described.get(e.id);
        // Only the spinner shows progress: a log without a terminal gets the step's closing line.
        if (what === undefined || !this.running.has(e.id)) return;
        this.running.set(e.id, `${what}: ${formatTransfer(e.bytes, e.elapsedMs, e.totalBytes)}`);
        this.refreshSpinner();
        return;
      }
      case 'step.finished': {
        this.running.delete(e.step.id);
        this.described.delete(e.step.id);
        const note = [OUTCOME_TEXT[e.outcome], e.detail].filter(Boolean).join(': ');
        this.line(`${MARK[e.outcome]} ${e.step.description}${note ? pc.dim(` (${note})`) : ''} ${pc.dim(formatDuration(e.durationMs))}`);
        return;
      }
      case 'step.failed':
        this.running.delete(e.step.id);
        this.described.delete(e.step.id);
        this.line(`${MARK.failed} ${e.step.description} ${pc.dim(formatDuration(e.durationMs))}\n    ${e.error.split('\n').join('\n    ')}`);
        return;
      case 'summary': {
        if (e.inSync) return; // the plan already said "in sync"
        const parts = (Object.entries(e.counts) as Array<[StepOutcome, number]>)
          .filter(([, n]) => n > 0)
          .map(([k, n]) => `${n} ${OUTCOME_TEXT[k] || k}`);
        const waits = !e.ok && !e.counts.failed && !e.counts.aborted && (e.counts.waiting ?? 0) > 0;
        const head = e.ok ? pc.green(`Cluster "${e.cluster}" reconciled`) : waits ? pc.yellow(`Cluster "${e.cluster}" not reconciled yet`) : pc.red(`Cluster "${e.cluster}" not reconciled`);
        const hint = waits ? ' (a prerequisite is missing; apply again once it is there, or leave mk watch running)' : '';
        this.line(`${head}: ${parts.join(', ')} in ${formatDuration(e.durationMs)}${hint}`);
        return;
      }
      case 'info':
        this.line(e.message);
        return;
      case 'warning':
        this.line(pc.yellow(`warning: ${e.message}`), 'err');
        return;
      case 'error':
        // A failed step's error was printed under its step line; the summary said the cluster was not reconciled.
        if (e.step !== undefined) return;
        this.line(pc.red(`error: ${e.message}`), 'err');
        return;
    }
  }

  debug(message: string, context?: Record<string, unknown>): void {
    if (this.opts.verbose < 1) return;
    const ctx = context && Object.keys(context).length ? ' ' + JSON.stringify(context) : '';
    this.line(pc.dim(`debug: ${message}${ctx}`), 'err');
  }

  close(): void {
    this.running.clear();
    this.described.clear();
    this.spinner?.stop();
    this.spinner = undefined;
  }
}

/** Each line of `text` after the local time, "14:03:07 ". */
function stamped(text: string, at: Date): string {
  const time = pc.dim([at.getHours(), at.getMinutes(), at.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':'));
  return text
    .split('\n')
    .map((l) => `${time} ${l}`)
    .join('\n');
}

/**
 * Events for machines, each with a timestamp, on stdout: NDJSON (one per line), or with format yaml a
 * YAML stream (one `---` document each). Debug lines go to stderr in the same format.
 */
export class JsonReporter implements Reporter {
  constructor(private readonly opts: { verbose: number; sink?: Sink; now?: () => Date; format?: MachineFormat }) {}

  private get sink(): Sink {
    return this.opts.sink ?? processSink;
  }

  private write(stream: 'out' | 'err', event: object): void {
    const ts = (this.opts.now?.() ?? new Date()).toISOString();
    this.sink[stream](formatStreamEvent(this.opts.format ?? 'json', redactDeep({ ts, ...event })));
  }

  emit(e: MkEvent): void {
    this.write('out', e);
  }

  debug(message: string, context?: Record<string, unknown>): void {
    if (this.opts.verbose < 1) return;
    this.write('err', { type: 'debug', message, ...(context ? { context } : {}) });
  }

  close(): void {}
}

/** timestamps: text lines start with the local time (machine events always carry theirs). */
export async function createReporter(format: OutputFormat, verbose: number, opts: { timestamps?: boolean } = {}): Promise<TextReporter | JsonReporter> {
  const machine = machineFormat(format);
  if (machine) return new JsonReporter({ verbose, format: machine });
  const tty = Boolean(process.stdout.isTTY) && !process.env.CI;
  const timestamps = opts.timestamps ?? false;
  if (!tty) return new TextReporter({ verbose, tty, timestamps });
  const { default: ora } = await import('ora');
  return new TextReporter({ verbose, tty, timestamps, createSpinner: () => ora({ stream: process.stdout }) });
}
