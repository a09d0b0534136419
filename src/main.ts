// Entry point: parse the command line, run one command, print errors in one place, exit with a
// documented code (see README "Exit codes"). bin/mk.js sets the exit code; process.exit is called only
// here, for a second Ctrl-C or a command still running 1.5 s after the first (forced exit), and a
// reader of stdout that went away (EPIPE).
// Only the version is imported up front: `mk --version` prints it without loading commander or any
// command (it is measured against `node -e 0`); everything else loads once it is needed.
import { setMaxListeners } from 'node:events';
import type { GlobalOptions, RunSettings } from './cli.js';
import type { CommandContext } from './commands/context.js';
import { EXIT, MkError, SpecError } from './errors.js';
import { errorEvent } from './log.js';
import { VERSION } from './version.js';

/** After the first Ctrl-C or SIGTERM, what runs gets this long to stop before mk exits anyway. */
const STOP_GRACE_MS = 1500;

async function readStdin(): Promise<string> {
  // Loaded on use: `mk --version` stays light.
  return (await import('./spec/load.js')).readSpecSource();
}

export async function main(argv: string[]): Promise<number> {
  if (argv.length === 1 && argv[0] === '--version') {
    process.stdout.write(`${VERSION}\n`);
    return EXIT.ok;
  }
  const [{ buildProgram }, { CommanderError }] = await Promise.all([import('./cli.js'), import('commander')]);
  let exitCode: number = EXIT.ok;
  const program = buildProgram({
    version: VERSION,
    argv,
    run: async (opts: GlobalOptions, fn, settings) => {
      exitCode = await runCommand(opts, argv, fn, settings);
    },
  });
  program.exitOverride();
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and --version exit 0; usage errors were already printed by commander
      return err.exitCode === 0 ? EXIT.ok : EXIT.error;
    }
    throw err;
  }
  return exitCode;
}

async function runCommand(opts: GlobalOptions, argv: readonly string[], fn: (ctx: CommandContext) => Promise<number>, settings: RunSettings = {}): Promise<number> {
  const [{ createReporter }, { RunLogs }, { redact }] = await Promise.all([import('./output/reporters.js'), import('./output/run-log.js'), import('./redact.js')]);
  const reporter = await createReporter(opts.output, opts.verbose, settings);
  let logWarned = false;
  const runLogs = new RunLogs({
    command: opts.command,
    argv,
    onError: (err) => {
      if (logWarned) return;
      logWarned = true;
      reporter.emit({ type: 'warning', message: `mk's run log cannot be written (${err.message}); going on without it` });
    },
  });
  // Read by the ssh driver (src/drivers/index.ts), which also honours the variable when set by hand.
  if (opts.trustNewHostKeys) process.env.MK_SSH_TRUST_ON_FIRST_USE = '1';
  const controller = new AbortController();
  // Many requests may be under way on the command's signal at once (observing a dozen images per node).
  setMaxListeners(0, controller.signal);
  let interrupts = 0;
  let idle: (() => boolean) | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupts++;
    if (interrupts > 1) {
      process.stderr.write('\nforced exit\n');
      process.exit(EXIT.interrupted);
    }
    // A command waiting for its next run (mk watch between saves) has nothing to interrupt: it just stops.
    if (!idle?.()) reporter.emit({ type: 'warning', message: `${sig} received: stopping (an interrupted apply converges when run again; ${sig} again forces the exit)` });
    controller.abort(new Error(`interrupted by ${sig}`));
    // Whatever does not heed the abort (a read of stdin that never ends, a call without a signal)
    // does not keep mk running: unref'd, so a command that stops in time exits with its own code.
    setTimeout(() => {
      reporter.close();
      process.stderr.write(`\nstill running ${STOP_GRACE_MS / 1000} s after ${sig}: exiting\n`);
      process.exit(EXIT.interrupted);
    }, STOP_GRACE_MS).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A reader that goes away (mk kubeconfig x | head) is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT.ok);
    throw err;
  });
  const ctx: CommandContext = {
    reporter,
    output: opts.output,
    verbose: opts.verbose,
    signal: controller.signal,
    stdin: readStdin,
    print: (line) => process.stdout.write(redact(line) + '\n'),
    printSecret: (text) => process.stdout.write(text + '\n'),
    runLog: (cluster) => runLogs.get(cluster),
    idleWhen: (probe) => {
      idle = probe;
    },
  };
  try {
    return await fn(ctx);
  } catch (err) {
    return reportError(err, opts, ctx);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    runLogs.close();
    reporter.close();
  }
}

function reportError(err: unknown, opts: GlobalOptions, ctx: CommandContext): number {
  const { reporter } = ctx;
  reporter.emit(errorEvent(err));
  if (opts.verbose > 0 && err instanceof Error && !(err instanceof SpecError) && err.stack) reporter.debug(err.stack);
  if (err instanceof MkError) return err.exitCode;
  return ctx.signal.aborted ? EXIT.interrupted : EXIT.error;
}
