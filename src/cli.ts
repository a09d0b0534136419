// The command table. Handlers load lazily so start-up only pays for what runs.
import { Command, InvalidArgumentError, Option } from 'commander';
import type { CommandContext } from './commands/context.js';
import { parseDuration } from './duration.js';
import { DEFAULT_CONCURRENCY } from './plan.js';

export interface CliRuntime {
  version: string;
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
    .action(async (name: string | undefined, opts: { file?: string }, cmd: Command) =>
      rt.run(globals(cmd), async (ctx) => (await import('./commands/delete.js')).deleteClusters(ctx, name, opts.file)),
    );

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

  const image = program.command('image').description("images in the nodes' container runtimes: load them from the local Docker engine or archive files, list them");
  image
    .command('load')
    .description('load images (from the local Docker engine) or archives (docker save, OCI) into the running nodes of a cluster; a node that holds an image (same ID) is skipped')
    .argument('<image-or-archive...>', 'image references the local Docker engine has, or archive files')
    .addOption(new Option('--cluster <name>', 'the cluster').makeOptionMandatory())
    .addOption(new Option('--nodes <names>', 'only these nodes, comma-separated (default: every running node)').argParser((v: string) => v.split(',').map((n) => n.trim()).filter(Boolean)))
    .addOption(concurrencyOption())
    .action(async (refs: string[], opts: { cluster: string; nodes?: string[]; concurrency: number }, cmd: Command) =>
      rt.run(globals(cmd), async (ctx) => (await import('./commands/image.js')).imageLoad(ctx, refs, opts)),
    );
  image
    .command('ls')
    .description("what each node's container runtime holds (image, ID, size)")
    .argument('<name>', 'cluster name')
    .action(async (name: string, _opts: unknown, cmd: Command) => rt.run(globals(cmd), async (ctx) => (await import('./commands/image.js')).imageList(ctx, name)));

  program
    .command('version')
    .description('print the mk version')
    .action(() => {
      process.stdout.write(`mk ${rt.version}\n`);
    });

  return program;
}
