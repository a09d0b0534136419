// Long-running child processes for tests: argv only, output to a log file, killed by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class ManagedProcess {
  readonly pid: number;
  readonly exited: Promise<Exit>;
  private exit: Exit | undefined;

  private constructor(
    readonly name: string,
    readonly argv: readonly string[],
    readonly logPath: string,
    private readonly child: ChildProcess,
  ) {
    if (child.pid === undefined) throw new Error(`${name}: spawn returned no pid`);
    this.pid = child.pid;
    this.exited = new Promise<Exit>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        live.delete(this);
        resolve(this.exit);
      });
    });
    live.add(this);
  }

  /** Starts `bin args...`, stdout and stderr appended to logPath. Rejects if the exec itself fails. */
  static async start(name: string, bin: string, args: readonly string[], logPath: string): Promise<ManagedProcess> {
    const fd = openSync(logPath, 'a');
    try {
      const child = spawn(bin, args, { stdio: ['ignore', fd, fd] });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', (err) => reject(new Error(`${name}: cannot start ${bin}: ${err.message}`)));
      });
      return new ManagedProcess(name, [bin, ...args], logPath, child);
    } finally {
      closeSync(fd);
    }
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  async logTail(lines = 40): Promise<string> {
    const text = await readFile(this.logPath, 'utf8').catch(() => '');
    return text.split('\n').slice(-lines).join('\n');
  }

  /** Throws (with the log tail) if the process has exited. */
  async assertRunning(): Promise<void> {
    if (this.exit) {
      const how = this.exit.signal ? `signal ${this.exit.signal}` : `code ${this.exit.code}`;
      throw new Error(`${this.name} (pid ${this.pid}) exited with ${how}; last log lines from ${this.logPath}:\n${await this.logTail()}`);
    }
  }

  /** SIGTERM, then SIGKILL after graceMs. Resolves once the process is gone. */
  async stop(graceMs = 10_000): Promise<Exit> {
    if (this.exit) return this.exit;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        resolve();
      }, graceMs);
    });
    await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    return this.exited;
  }
}

// If the test runner exits without calling stop(), do not leave etcd/apiserver behind.
const live = new Set<ManagedProcess>();
process.once('exit', () => {
  for (const p of live) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** Polls check() until it returns true; fails early when one of `procs` exits. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  opts: { timeoutMs: number; intervalMs?: number; procs?: readonly ManagedProcess[] },
): Promise<number> {
  const start = Date.now();
  let lastErr: unknown;
  for (;;) {
    for (const p of opts.procs ?? []) await p.assertRunning();
    try {
      if (await check()) return Date.now() - start;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() - start > opts.timeoutMs) {
      const tails = await Promise.all((opts.procs ?? []).map(async (p) => `--- ${p.name} (${p.logPath}):\n${await p.logTail(20)}`));
      const why = lastErr instanceof Error ? ` (last error: ${lastErr.message})` : '';
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${what}${why}\n${tails.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
  }
}
