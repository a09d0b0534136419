// Typed errors. Each layer wraps with context; only src/main.ts prints them and picks the exit code.

export const EXIT = {
  ok: 0,
  error: 1,
  /** mk plan: changes are pending. */
  changesPending: 2,
  /** Another mk holds the cluster lock. */
  locked: 3,
  /** mk apply: every step ended, but some wait for a prerequisite (a node not running, no control plane answering). */
  waiting: 4,
  /** mk status: a cluster shown is not healthy (a node not running or not Ready, a kubelet down, a problem mk found). */
  unhealthy: 5,
  /** Interrupted (Ctrl-C / SIGTERM). */
  interrupted: 130,
} as const;

export class MkError extends Error {
  readonly exitCode: number = EXIT.error;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export interface SpecProblem {
  file: string;
  line: number;
  column: number;
  /** JSON-pointer-like dot path, e.g. spec.nodes[1].name */
  path: string;
  message: string;
}

export class SpecError extends MkError {
  constructor(readonly problems: SpecProblem[]) {
    super(problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.path ? p.path + ': ' : ''}${p.message}`).join('\n'));
  }
}

/** The spec named on the command line cannot be read at all: a missing file, a directory without specs, no permission. */
export class SpecFileError extends MkError {
  constructor(readonly file: string, problem: string) {
    super(`cannot read the spec: ${file} ${problem} (-f takes a cluster spec file, a directory of *.yaml specs, or - for standard input)`);
  }
}

export class CommandError extends MkError {
  constructor(
    readonly argv: readonly string[],
    readonly exitCodeOfCommand: number,
    readonly stdout: string,
    readonly stderr: string,
    readonly where: string,
  ) {
    super(`command failed on ${where} (exit ${exitCodeOfCommand}): ${argv.join(' ')}\n${(stderr || stdout).trim().split('\n').slice(-20).join('\n')}`);
  }
}

export class LockedError extends MkError {
  override readonly exitCode = EXIT.locked;
  /** lost: this mk held the lock and another one took it over (this one stalled past the stale time). */
  constructor(readonly cluster: string, readonly holder: { pid: number; host: string; since: string } | undefined, opts: { lost?: boolean } = {}) {
    const who = holder ? `another mk (pid ${holder.pid} on ${holder.host}, since ${holder.since})` : 'another mk';
    super(
      opts.lost
        ? `lost the lock of cluster "${cluster}": ${who} took it over, so this mk stopped its steps; the other one goes on`
        : holder
          ? `cluster "${cluster}" is being reconciled by ${who}`
          : `cluster "${cluster}" is locked by another mk`,
    );
  }
}

export class DriverError extends MkError {}
export class PlanError extends MkError {}
export class StepError extends MkError {
  constructor(readonly stepId: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
/** A prerequisite of a step is not met yet (a node not running, no control plane answering): the step waits, it does not fail. */
export class WaitingError extends MkError {}

export class AbortedError extends MkError {
  override readonly exitCode = EXIT.interrupted;
  constructor(message = 'interrupted') {
    super(message);
  }
}
