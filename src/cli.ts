// The command table. Handlers load lazily so start-up only pays for what runs.
import { Command, InvalidArgumentError, Option } from 'commander';
import type { CommandContext } from './commands/context.js';
import { parseDuration } from './duration.js';
import { DEFAULT_CONCURRENCY } from './plan.js';

export interface CliRuntime {
  version: string;
  /** The arguments as given (mk ssh finds its command after `--`, which commander drops). */
  argv: readonly string[];
  /** Builds the context once options are parsed; returns the exit code of the command. */
  run: (opts: GlobalOptions, fn: (ctx: CommandContext) => Promise<number>) => Promise<void>;
}

export interface GlobalOptions {
  /** The command's name (apply, watch...). */
  command: string;
  output: 'text' | 'json';
  verbose: number;
  trustNewHostKeys?: boolean;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function duration(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new InvalidArgumentError('must be a duration like 500ms, 30s or 2m');
  return ms;
}

/**
 * mk ssh's operands: commander drops the `--`, so the command is what follows the first `--` of the
 * raw arguments; before it, only NAME and NODE. A command without `--` is refused (its options would
 * be taken for mk's).
 */
export function sshOperands(argv: readonly string[], node: string | undefined, rest: readonly string[]): { node?: string; command?: string[] } | { error: string } {
  const dash = argv.indexOf('--');
  const command = dash < 0 ? [] : argv.slice(dash + 1);
  const operands = [...(node !== undefined ? [node] : []), ...rest];
  const before = operands.slice(0, operands.length - command.length);
  if (before.length > 1) return { error: `put the command after --: mk ssh NAME [NODE] -- ${before.slice(1).join(' ')}` };
  if (dash >= 0 && command.length === 0) return { error: 'no command after --: mk ssh NAME [NODE] -- CMD [ARGS...]' };
  return { ...(before[0] !== undefined ? { node: before[0] } : {}), ...(dash >= 0 ? { command } : {}) };
}

export function buildProgram(rt: CliRuntime): Command {
  const program = new Command('mk')
    .description('Turn a cluster.yaml into a running Kubernetes cluster and keep it that way.')
    .version(rt.version, '--version', 'print the mk version')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--trust-new-host-keys', 'ssh driver: accept and record the host key of hosts not yet in known_hosts (a changed key is always refused)')
    .option('-v, --verbose', 'more detail (repeat for more); error stacks at -v', (_: string, prev: number) => prev + 1, 0)
    .showHelpAfterError('(run mk --help for usage)')
    .configureHelp({ showGlobalOptions: true });

  const globals = (cmd: Command): GlobalOptions => ({ ...cmd.optsWithGlobals(), command: cmd.name() }) as GlobalOptions;
  const fileOption = () => new Option('-f, --file <path>', 'cluster spec: a file, a directory of specs, or - for stdin').makeOptionMandatory();

  const skipPreflightOption = () =>
    new Option('--skip-preflight', 'bring nodes up even where the host would kill them (inotify limits, disk, capabilities, cgroups); each problem becomes a warning');

  program
    .command('plan')
    .description('show what apply would change (exit 0 in sync, 2 changes pending, 1 error)')
    .addOption(fileOption())
    .addOption(skipPreflightOption())
    .action(async (opts: { file: string; skipPreflight?: boolean }, cmd: Command) =>
      rt.run(globals(cmd), async (ctx) => (await import('./commands/apply.js')).plan(ctx, opts.file, { skipPreflight: opts.skipPreflight ?? false })),
    );

  const concurrencyOption = () => new Option('--concurrency <n>', 'parallel node and addon operations').argParser(positiveInt).default(DEFAULT_CONCURRENCY);
  const switchContextOption = () => new Option('--no-switch-context', 'keep the current kubeconfig context (default: mk-NAME becomes current when exported)');

  program
    .command('apply')
    .description('converge the cluster(s) to the spec; with nothing to change it says so and does nothing')
    .addOption(fileOption())
    .addOption(concurrencyOption())
    .addOption(switchContextOption())
    .addOption(skipPreflightOption())
    .action(async (opts: { file: string; concurrency: number; switchContext: boolean; skipPreflight?: boolean }, cmd: Command) =>
      rt.run(globals(cmd), async (ctx) =>
        (await import('./commands/apply.js')).apply(ctx, opts.file, {
          concurrency: opts.concurrency,
          switchContext: opts.switchContext,
          skipPreflight: opts.skipPreflight ?? false,
        }),
      ),
    );

  program
    .command('watch')
    .description('reconcile on every save of the spec, and repair drift periodically; Ctrl-C stops')
    .addOption(fileOption())
    .addOption(new Option('--interval <duration>', 'how often to re-observe the cluster for drift').argParser(duration).default(30_000, '30s'))
    .addOption(new Option('--debounce <duration>', 'quiet time after a save before reconciling').argParser(duration).default(75, '75ms'))
    .addOption(concurrencyOption())
    .addOption(switchContextOption())
    .addOption(skipPreflightOption())
    .action(async (opts: { file: string; interval: number; debounce: number; concurrency: number; switchContext: boolean; skipPreflight?: boolean }, cmd: Command) =>
      rt.run(globals(cmd), async (ctx) =>
        (await import('./commands/watch.js')).watch(ctx, opts.file, {
          intervalMs: opts.interval,
          debounceMs: opts.debounce,
          apply: { concurrency: opts.concurrency, switchContext: opts.switchContext, skipPreflight: opts.skipPreflight ?? false },
        }),
      ),
    );

  program
    .command('status')
    .description('nodes, roles, state and addresses of one or all clusters, and what is out of sync')
    .argument('[name]', 'cluster name (default: every cluster mk finds)')
    .option('-f, --file <path>', 'compare against this spec instead of the last applied one')
    .action(async (name: string | undefined, opts: { file?: string }, cmd: Command) =>
      rt.run(globals(cmd), async (ctx) => (await import('./commands/status.js')).status(ctx, name, opts.file)),
    );

  program
    .command('delete')
    .description('remove everything mk owns for a cluster (found by label), nothing else')
    .argument('[name]', 'cluster name')
    .option('-f, --file <path>', 'delete the cluster(s) this spec describes')
    .option('--all', 'delete every cluster mk finds (mk status lists them), each plan printed before any is deleted')
    .action(async (name: string | undefined, opts: { file?: string; all?: boolean }, cmd: Command) =>
      rt.run(globals(cmd), async (ctx) => (await import('./commands/delete.js')).deleteClusters(ctx, name, opts.file, { all: opts.all ?? false })),
    );

  program
    .command('stop')
    .description('stop every node of a cluster and keep it (volumes, addresses, API port); mk watch leaves it stopped, mk start brings it back')
    .argument('<name>', 'cluster name')
    .action(async (name: string, _opts: unknown, cmd: Command) => rt.run(globals(cmd), async (ctx) => (await import('./commands/stop.js')).stop(ctx, name)));

  program
    .command('start')
    .description('start a stopped cluster: apply the spec last applied from this machine (or -f), until every node is Ready')
    .argument('<name>', 'cluster name')
    .option('-f, --file <path>', 'the cluster\'s spec (default: the one last applied from this machine)')
    .addOption(concurrencyOption())
    .addOption(switchContextOption())
    .addOption(skipPreflightOption())
    .action(async (name: string, opts: { file?: string; concurrency: number; switchContext: boolean; skipPreflight?: boolean }, cmd: Command) =>
      rt.run(globals(cmd), async (ctx) =>
        (await import('./commands/start.js')).start(ctx, name, {
          concurrency: opts.concurrency,
          switchContext: opts.switchContext,
          skipPreflight: opts.skipPreflight ?? false,
          ...(opts.file ? { file: opts.file } : {}),
        }),
      ),
    );

  program
    .command('ssh')
    .description('a shell on a node (docker exec, or ssh with mk\'s connection settings), or run CMD there and exit with its code')
    .argument('<name>', 'cluster name')
    .argument('[node]', 'node name, whole or after "NAME-" (default: the first control plane)')
    .argument('[command...]', 'after --: the command and its arguments (argv, not a shell line)')
    .action(async (name: string, node: string | undefined, operands: string[], _opts: unknown, cmd: Command) => {
      const parsed = sshOperands(rt.argv, node, operands);
      if ('error' in parsed) cmd.error(`error: ${parsed.error}`);
      else await rt.run(globals(cmd), async (ctx) => (await import('./commands/ssh.js')).ssh(ctx, name, parsed.node, parsed.command));
    });

  program
    .command('kubeconfig')
    .description('print the admin kubeconfig of a cluster (context mk-NAME), read from a control plane')
    .argument('<name>', 'cluster name')
    .option('-f, --file <path>', 'the cluster\'s spec (default: the one last applied from this machine)')
    .option('--switch', 'instead of printing, merge it into KUBECONFIG (or ~/.kube/config) and make it the current context')
    .action(async (name: string, opts: { file?: string; switch?: boolean }, cmd: Command) =>
      rt.run(globals(cmd), async (ctx) => (await import('./commands/kubeconfig.js')).kubeconfig(ctx, name, opts)),
    );

  program
    .command('logs')
    .description('collect what a bug report needs into a folder, secrets redacted: node journals, container logs and inspect, mk\'s files on the nodes, Nodes, Pods and Events, mk\'s log of its recent runs')
    .argument('<name>', 'cluster name')
    .option('--output-dir <dir>', 'the folder to write (default: a new folder mk-logs-NAME-TIME in the current directory)')
    .action(async (name: string, opts: { outputDir?: string }, cmd: Command) =>
      rt.run(globals(cmd), async (ctx) => (await import('./commands/logs.js')).logs(ctx, name, opts.outputDir ? { outputDir: opts.outputDir } : {})),
    );

  program
    .command('tunnel')
    .description('forward every LoadBalancer Service of a cluster to 127.0.0.1 through the API server while it runs; Ctrl-C stops')
    .argument('<name>', 'cluster name (uses kubeconfig context mk-NAME)')
    .addOption(new Option('--interval <duration>', 'how often to list Services and endpoints again').argParser(duration).default(2000, '2s'))
    .action(async (name: string, opts: { interval: number }, cmd: Command) =>
      rt.run(globals(cmd), async (ctx) => (await import('./commands/tunnel.js')).tunnel(ctx, name, { intervalMs: opts.interval })),
    );

  program
    .command('version')
    .description('print the mk version')
    .action(() => {
      process.stdout.write(`mk ${rt.version}\n`);
    });

  return program;
}
