// mk's own log of its recent runs, for `mk logs`: every event and every debug line (whatever -v
// says) of apply, watch and delete, per cluster, in $MK_HOME/clusters/<name>/logs/ (directory 0700,
// files 0600), one JSON object per line, redacted like every other output. Bounded: a file that
// reaches maxBytes is closed and the next one begun, and only the newest `keep` files stay. Writes
// are synchronous (a killed mk loses nothing) and a log that cannot be written never fails a run.
import { closeSync, mkdirSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { MkEvent, Reporter } from '../log.js';
import { redactDeep } from '../redact.js';
import { clusterStateDir, mkHome } from '../state.js';
import { VERSION } from '../version.js';

export const RUN_LOG_KEEP = 8;
export const RUN_LOG_MAX_BYTES = 2 * 1024 * 1024;

export function runLogDir(cluster: string, home = mkHome()): string {
  return join(clusterStateDir(cluster, home), 'logs');
}

const isRunLog = (f: string) => f.endsWith('.log');

/** The cluster's run logs, oldest first (names begin with the time); empty when there are none. */
export async function runLogFiles(cluster: string, home = mkHome()): Promise<string[]> {
  try {
    return (await readdir(runLogDir(cluster, home))).filter(isRunLog).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

export interface RunLogOptions {
  cluster: string;
  /** The mk command (apply, watch, delete), in the file name and the header line. */
  command: string;
  /** The command line (written in each file's header line). */
  argv?: readonly string[];
  home?: string;
  keep?: number;
  maxBytes?: number;
  now?: () => Date;
  /** Told once when the log cannot be written (the run goes on without it). */
  onError?: (err: Error) => void;
}

/** One cluster's log of this mk process (a watch writes all its runs into it). Files are made on the first line. */
export class RunLog {
  #fd: number | undefined;
  #bytes = 0;
  #part = 0;
  #broken = false;

  constructor(private readonly opts: RunLogOptions) {}

  /** Writes one record (ts first), redacted. */
  write(record: Record<string, unknown>): void {
    if (this.#broken) return;
    const line = JSON.stringify(redactDeep({ ts: this.#now().toISOString(), ...record })) + '\n';
    try {
      if (this.#fd === undefined || (this.#bytes > 0 && this.#bytes + Buffer.byteLength(line) > (this.opts.maxBytes ?? RUN_LOG_MAX_BYTES))) this.#next();
      this.#bytes += writeSync(this.#fd!, line);
    } catch (err) {
      this.#broken = true;
      this.close();
      this.opts.onError?.(err as Error);
    }
  }

  /** A reporter that passes everything to `inner` and writes it here too. */
  tee(inner: Reporter): Reporter {
    return {
      emit: (e: MkEvent) => {
        this.write({ ...e });
        inner.emit(e);
      },
      debug: (message, context) => {
        this.write({ type: 'debug', message, ...(context ? { context } : {}) });
        inner.debug(message, context);
      },
    };
  }

  /** Records the error that ended the work on the cluster (main prints it; the log keeps its stack too). */
  failed(err: unknown): void {
    this.write({ type: 'error', message: err instanceof Error ? err.message : String(err), ...(err instanceof Error && err.stack ? { stack: err.stack } : {}) });
  }

  close(): void {
    if (this.#fd === undefined) return;
    try {
      closeSync(this.#fd);
    } catch {
      /* nothing left to do */
    }
    this.#fd = undefined;
  }

  #now(): Date {
    return this.opts.now?.() ?? new Date();
  }

  /** Begins the next file (the first one, or after maxBytes) and drops the oldest beyond `keep`. */
  #next(): void {
    this.close();
    const { cluster, command, home } = this.opts;
    const dir = runLogDir(cluster, home);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const stamp = this.#now().toISOString().replace(/:/g, '-');
    const file = `${stamp}-${command}-${process.pid}${this.#part > 0 ? `-${this.#part}` : ''}.log`;
    this.#fd = openSync(join(dir, file), 'a', 0o600);
    this.#bytes = 0;
    const header = { ts: this.#now().toISOString(), type: 'run', cluster, command, mk: VERSION, pid: process.pid, part: this.#part, ...(this.opts.argv ? { argv: this.opts.argv } : {}) };
    this.#bytes += writeSync(this.#fd, JSON.stringify(redactDeep(header)) + '\n');
    this.#part++;
    const logs = readdirSync(dir).filter(isRunLog).sort();
    for (const old of logs.slice(0, Math.max(0, logs.length - (this.opts.keep ?? RUN_LOG_KEEP)))) {
      if (old !== file) rmSync(join(dir, old), { force: true });
    }
  }
}

/** The run logs of one mk process, one per cluster it works on; closed when the command ends. */
export class RunLogs {
  readonly #logs = new Map<string, RunLog>();

  constructor(private readonly opts: Omit<RunLogOptions, 'cluster'>) {}

  get(cluster: string): RunLog {
    let log = this.#logs.get(cluster);
    if (!log) this.#logs.set(cluster, (log = new RunLog({ ...this.opts, cluster })));
    return log;
  }

  close(): void {
    for (const log of this.#logs.values()) log.close();
    this.#logs.clear();
  }
}
