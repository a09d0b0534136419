// The command table. Handlers load lazily so start-up only pays for what runs. Every command's help
// ends with examples; the top-level help alone lists the global options, the environment variables
// mk reads and the exit codes.
import { Argument, Command, InvalidArgumentError, Option } from 'commander';
import type { CommandContext } from './commands/context.js';
import type { CommandModel, Completes } from './commands/completion.js';
import { parseDuration } from './duration.js';
import type { OutputFormat } from './output/format.js';
import { DEFAULT_CONCURRENCY } from './plan.js';

export interface CliRuntime {
  version: string;
  /** The arguments as given (mk ssh finds its command after `--`, which commander drops). */
  argv: readonly string[];
  /** Builds the context once options are parsed; returns the exit code of the command. */
  run: (opts: GlobalOptions, fn: (ctx: CommandContext) => Promise<number>, settings?: RunSettings) => Promise<void>;
}

/** How a command's output is set up beyond the global options. */
export interface RunSettings {
  /** Text lines start with the local time (long-running commands: mk watch). */
  timestamps?: boolean;
}

export interface GlobalOptions {
  /** The command's name (apply, watch...). */
  command: string;
  output: OutputFormat;
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

/** `-o` values: text for people; json and yaml for machines; name (cluster names only) for the commands in NAME_OUTPUT. */
const OUTPUT_CHOICES: readonly OutputFormat[] = ['text', 'json', 'yaml', 'name'];
/** Commands that print a list of clusters, the only ones that know `-o name`. */
const NAME_OUTPUT = new Set(['list', 'get']);

/** What the shell completes for an option's value or an argument, where the convention of completesFor would guess wrong. */
const COMPLETES = new WeakMap<Option | Argument, Completes>();
function completes<T extends Option | Argument>(target: T, what: Completes): T {
  COMPLETES.set(target, what);
  return target;
}

/** "Examples:" for a command's help: each example a comment line and the command line under it. */
export function examples(...items: Array<[comment: string, line: string]>): string {
  return `\nExamples:\n${items.map(([comment, line]) => `  # ${comment}\n  ${line.replace(/\n/g, '\n  ')}`).join('\n\n')}`;
}

/** Every environment variable mk reads (a unit test holds this list to src/), for the top-level help. */
const ENVIRONMENT: ReadonlyArray<[string, string]> = [
  ['MK_HOME', "mk's state: last applied specs, locks, run logs, ssh hosts, qemu VMs (default ~/.mk)"],
  ['KUBECONFIG', 'the kubeconfig mk merges context mk-NAME into: its first file (default ~/.kube/config)'],
  ['DOCKER_HOST', 'the Docker engine, as the docker CLI finds it (driver.docker.host or .context in the spec win)'],
  ['DOCKER_CONTEXT', 'a docker CLI context to use when DOCKER_HOST is not set'],
  ['CONTAINER_HOST, XDG_RUNTIME_DIR', "podman's API service for driver podman, as podman's remote client finds it (driver.podman.host in the spec wins; a user's service at $XDG_RUNTIME_DIR/podman/podman.sock)"],
  ['DOCKER_CONFIG', 'the docker CLI config folder, for its contexts (default ~/.docker)'],
  ['DOCKER_TLS_VERIFY, DOCKER_TLS, DOCKER_CERT_PATH', 'TLS for a tcp:// DOCKER_HOST, as for the docker CLI'],
  ['MK_ADDON_WAIT', 'seconds apply waits for each addon to be ready (default 60; 0: no wait)'],
  ['MK_KUBERNETES_RELEASE_URL', 'a mirror of https://dl.k8s.io/release for kubeadm, kubelet and kubectl'],
  ['MK_SSH_TRUST_ON_FIRST_USE', '1: as --trust-new-host-keys'],
  ['MK_HOST_PROC', 'read the host facts of the preflight from this /proc instead of /proc (tests)'],
  ['SSH_AUTH_SOCK', 'the ssh agent the ssh driver asks for keys'],
  ['USER', 'the ssh user when neither the spec nor ~/.ssh/config names one'],
  ['XDG_CACHE_HOME', 'where downloaded addon files are cached, and VM images looked for (default ~/.cache; mk/addons, mk/vm in it)'],
  ['MK_VM_CACHE', 'driver qemu: the folder of VM node images (default $XDG_CACHE_HOME/mk/vm; driver.qemu.image in the spec wins)'],
  ['NO_COLOR, CI', 'NO_COLOR: no colours; CI: no spinner'],
  ['TERM', 'mk ssh: the terminal type the node\'s shell is told (default xterm)'],
];

/** The exit codes of README "Exit codes", short (a unit test holds it to EXIT in src/errors.ts). */
const EXIT_CODES: ReadonlyArray<[number, string]> = [
  [0, 'success; plan: in sync'],
  [1, 'error: invalid spec, failed step, refused plan, unknown cluster...'],
  [2, 'plan (and apply --dry-run): changes are pending'],
  [3, "another mk holds the cluster's lock"],
  [4, 'apply: some steps wait for a prerequisite (apply again, or leave mk watch running)'],
  [5, 'status: a cluster shown is not healthy'],
  [130, 'interrupted (Ctrl-C, SIGTERM)'],
];

/** "get", "addons list": the command's words after mk. */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

function table(rows: ReadonlyArray<readonly [string | number, string]>): string {
  const width = Math.max(...rows.map(([k]) => String(k).length));
  return rows.map(([k, v]) => `  ${String(k).padEnd(width)}  ${v}`).join('\n');
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
    .optionsGroup('Global options (before or after the command):')
    .version(rt.version, '--version', 'print the mk version')
    .addOption(new Option('-o, --output <format>', 'output format: text; json and yaml (one document, or a stream of events); name (mk list)').choices(OUTPUT_CHOICES).default('text'))
    .option('--trust-new-host-keys', 'ssh driver: accept and record the host key of hosts not yet in known_hosts (a changed key is always refused)')
    .option('-v, --verbose', 'more detail (repeat for more); error stacks at -v', (_: string, prev: number) => prev + 1, 0)
    .optionsGroup('Options:')
    .showHelpAfterError('(run mk --help for usage)')
    .addHelpText(
      'after',
      [
        `\nEnvironment:\n${table(ENVIRONMENT)}\n`,
        `\nExit codes:\n${table(EXIT_CODES)}\n`,
        examples(
          ['a starter cluster.yaml, what applying it would change, then apply it', 'mk init dev && mk plan -f cluster.yaml && mk apply -f cluster.yaml'],
          ['the clusters mk finds, and one in detail', 'mk list && mk status dev'],
          ['help on one command', 'mk apply --help'],
        ),
      ].join(''),
    );

  const globals = (cmd: Command): GlobalOptions => {
    const opts = { ...cmd.optsWithGlobals(), command: cmd.name() } as GlobalOptions;
    const path = commandPath(cmd);
    if (opts.output === 'name' && !NAME_OUTPUT.has(path)) cmd.error(`error: -o name is for mk list (mk get clusters); mk ${path} prints text, json or yaml`);
    return opts;
  };
  const fileOption = () => new Option('-f, --file <path>', 'cluster spec: a file, a directory of specs, or - for stdin').makeOptionMandatory();

  const skipPreflightOption = () =>
    new Option('--skip-preflight', 'bring nodes up even where the host would kill them (inotify limits, disk, capabilities, cgroups); each problem becomes a warning');

  program
    .command('plan')
    .description('show what apply would change (exit 0 in sync, 2 changes pending, 1 error)')
    .addOption(fileOption())
    .addOption(skipPreflightOption())
    .addHelpText(
      'after',
      examples(
        ['what apply would change; exit 2 when something would', 'mk plan -f cluster.yaml'],
        ['every *.yaml and *.yml in a folder, or the spec on stdin', 'mk plan -f clusters/\ncat cluster.yaml | mk plan -f -'],
        ['the plan as a JSON event (steps with id, action, reason, dependsOn)', 'mk plan -f cluster.yaml -o json'],
      ),
    )
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
    .option('--dry-run', 'change nothing: print the plan, as mk plan does (same output and exit codes)')
    .addHelpText(
      'after',
      examples(
        ['create or converge the cluster; mk-NAME becomes the current kubeconfig context', 'mk apply -f cluster.yaml'],
        ['what it would do, changing nothing (mk plan)', 'mk apply -f cluster.yaml --dry-run'],
        ['every cluster of a folder, 8 operations at a time, keeping the current context', 'mk apply -f clusters/ --concurrency 8 --no-switch-context'],
        ['one JSON event per line (step.started, step.finished, summary...)', 'mk apply -f cluster.yaml -o json'],
      ),
    )
    .action(async (opts: { file: string; concurrency: number; switchContext: boolean; skipPreflight?: boolean; dryRun?: boolean }, cmd: Command) =>
      rt.run(globals(cmd), async (ctx) => {
        const { apply, plan } = await import('./commands/apply.js');
        const skipPreflight = opts.skipPreflight ?? false;
        if (opts.dryRun) return plan(ctx, opts.file, { skipPreflight });
        return apply(ctx, opts.file, { concurrency: opts.concurrency, switchContext: opts.switchContext, skipPreflight });
      }),
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
    .addHelpText(
      'after',
      examples(
        ['apply on every save of the file, and repair drift every 30 s; Ctrl-C stops', 'mk watch -f cluster.yaml'],
        ['a folder of specs, drift checked every 2 minutes', 'mk watch -f clusters/ --interval 2m'],
      ),
    )
    .action(async (opts: { file: string; interval: number; debounce: number; concurrency: number; switchContext: boolean; skipPreflight?: boolean }, cmd: Command) =>
      rt.run(
        globals(cmd),
        async (ctx) =>
          (await import('./commands/watch.js')).watch(ctx, opts.file, {
            intervalMs: opts.interval,
            debounceMs: opts.debounce,
            apply: { concurrency: opts.concurrency, switchContext: opts.switchContext, skipPreflight: opts.skipPreflight ?? false },
          }),
        { timestamps: true },
      ),
    );

  program
    .command('status')
    .description('nodes, roles, state and addresses of one or all clusters, and what is out of sync')
    .argument('[name]', 'cluster name (default: every cluster mk finds)')
    .option('-f, --file <path>', 'compare against this spec instead of the last applied one')
    .addHelpText(
      'after',
      examples(
        ['every cluster mk finds; exit 5 when one is not healthy', 'mk status'],
        ['one cluster, compared with a spec rather than the last applied one', 'mk status dev -f cluster.yaml'],
        ['as YAML (or -o json)', 'mk status dev -o yaml'],
      ),
    )
    .action(async (name: string | undefined, opts: { file?: string }, cmd: Command) =>
      rt.run(globals(cmd), async (ctx) => (await import('./commands/status.js')).status(ctx, name, opts.file)),
    );

  program
    .command('delete')
    .description('remove everything mk owns for a cluster (found by label), nothing else')
    .argument('[name]', 'cluster name')
    .option('-f, --file <path>', 'delete the cluster(s) this spec describes')
    .option('--all', 'delete every cluster mk finds (mk status lists them), each plan printed before any is deleted')
    .addHelpText(
      'after',
      examples(
        ['remove the cluster: its nodes, volumes, network, kubeconfig context and mk\'s state for it', 'mk delete dev'],
        ['the clusters a spec (or a folder of specs) describes', 'mk delete -f cluster.yaml'],
        ['every cluster mk finds, their plans printed first', 'mk delete --all'],
      ),
    )
    .action(async (name: string | undefined, opts: { file?: string; all?: boolean }, cmd: Command) =>
      rt.run(globals(cmd), async (ctx) => (await import('./commands/delete.js')).deleteClusters(ctx, name, opts.file, { all: opts.all ?? false })),
    );

  program
    .command('stop')
    .description('stop every node of a cluster and keep it (volumes, addresses, API port); mk watch leaves it stopped, mk start brings it back')
    .argument('<name>', 'cluster name')
    .addHelpText('after', examples(['stop cluster dev, keeping everything for mk start', 'mk stop dev']))
    .action(async (name: string, _opts: unknown, cmd: Command) => rt.run(globals(cmd), async (ctx) => (await import('./commands/stop.js')).stop(ctx, name)));

  program
    .command('start')
    .description('start a stopped cluster: apply the spec last applied from this machine (or -f), until every node is Ready')
    .argument('<name>', 'cluster name')
    .option('-f, --file <path>', 'the cluster\'s spec (default: the one last applied from this machine)')
    .addOption(concurrencyOption())
    .addOption(switchContextOption())
    .addOption(skipPreflightOption())
    .addHelpText('after', examples(['bring stopped cluster dev back, every node Ready', 'mk start dev'], ['start it from its spec file', 'mk start dev -f cluster.yaml']))
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
    .addHelpText(
      'after',
      examples(
        ['a shell on the first control plane of cluster dev', 'mk ssh dev'],
        ['a shell on a worker (its whole name, or what follows "dev-")', 'mk ssh dev worker-1'],
        ['run a command there and exit with its code', 'mk ssh dev worker-1 -- crictl ps'],
      ),
    )
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
    .addHelpText(
      'after',
      examples(
        ['the admin kubeconfig, to a file of its own', 'mk kubeconfig dev > dev.kubeconfig && kubectl --kubeconfig dev.kubeconfig get nodes'],
        ['merge context mk-dev into ~/.kube/config and make it current', 'mk kubeconfig dev --switch'],
      ),
    )
    .action(async (name: string, opts: { file?: string; switch?: boolean }, cmd: Command) =>
      rt.run(globals(cmd), async (ctx) => (await import('./commands/kubeconfig.js')).kubeconfig(ctx, name, opts)),
    );

  program
    .command('logs')
    .description('collect what a bug report needs into a folder, secrets redacted: node journals, container logs and inspect, mk\'s files on the nodes, Nodes, Pods and Events, mk\'s log of its recent runs')
    .argument('<name>', 'cluster name')
    .option('--output-dir <dir>', 'the folder to write (default: a new folder mk-logs-NAME-TIME in the current directory)')
    .addHelpText(
      'after',
      examples(
        ['a new folder mk-logs-dev-TIME here, to attach to a bug report', 'mk logs dev'],
        ['into a folder of your choice', 'mk logs dev --output-dir /tmp/dev-logs'],
      ),
    )
    .action(async (name: string, opts: { outputDir?: string }, cmd: Command) =>
      rt.run(globals(cmd), async (ctx) => (await import('./commands/logs.js')).logs(ctx, name, opts.outputDir ? { outputDir: opts.outputDir } : {})),
    );

  program
    .command('tunnel')
    .description('forward every LoadBalancer Service of a cluster to 127.0.0.1 through the API server while it runs; Ctrl-C stops')
    .argument('<name>', 'cluster name (uses kubeconfig context mk-NAME)')
    .addOption(new Option('--interval <duration>', 'how often to list Services and endpoints again').argParser(duration).default(2000, '2s'))
    .addHelpText(
      'after',
      examples(
        ['reach every LoadBalancer Service on 127.0.0.1 until Ctrl-C', 'mk tunnel dev'],
        ['one JSON event per forward opened or closed', 'mk tunnel dev -o json'],
      ),
    )
    .action(async (name: string, opts: { interval: number }, cmd: Command) =>
      rt.run(globals(cmd), async (ctx) => (await import('./commands/tunnel.js')).tunnel(ctx, name, { intervalMs: opts.interval })),
    );

  const addonExamples = examples(
    ["the catalog: description, version, images, what mk's tests verified", 'mk addons list'],
    ["with a cluster: whether its spec enables each addon and whether it is installed", 'mk addons list dev'],
    ['as JSON (or -o yaml)', 'mk addons list dev -o json'],
  );
  program
    .command('addons')
    .description("mk's addon catalog")
    .addHelpText('after', addonExamples)
    .command('list')
    .description("every addon of mk's catalog: description, version, images, what mk's tests verified; with a cluster name, whether its spec enables each and whether it is installed")
    .argument('[name]', 'cluster name (default: the catalog alone)')
    .addHelpText('after', addonExamples)
    .action(async (name: string | undefined, _opts: object, cmd: Command) =>
      rt.run(globals(cmd), async (ctx) => (await import('./commands/addons.js')).addonsList(ctx, name)),
    );

  const image = program
    .command('image')
    .description("images in the nodes' container runtimes: load them from the local Docker engine or archive files, list them")
    .addHelpText('after', examples(['load an image the local Docker engine has into cluster dev', 'mk image load myapp:1.0 --cluster dev'], ['list what each node holds', 'mk image ls dev']));
  image
    .command('load')
    .description('load images (from the local Docker engine) or archives (docker save, OCI) into the running nodes of a cluster; a node that holds an image (same ID) is skipped')
    .argument('<image-or-archive...>', 'image references the local Docker engine has, or archive files')
    .addOption(new Option('--cluster <name>', 'the cluster').makeOptionMandatory())
    .addOption(new Option('--nodes <names>', 'only these nodes, comma-separated (default: every running node)').argParser((v: string) => v.split(',').map((n) => n.trim()).filter(Boolean)))
    .addOption(concurrencyOption())
    .addHelpText(
      'after',
      examples(
        ['an image the local Docker engine has, into every running node of cluster dev', 'mk image load myapp:1.0 --cluster dev'],
        ['an archive (docker save or OCI layout) into two nodes', 'mk image load ./myapp.tar --cluster dev --nodes dev-w-1,dev-w-2'],
      ),
    )
    .action(async (refs: string[], opts: { cluster: string; nodes?: string[]; concurrency: number }, cmd: Command) =>
      rt.run(globals(cmd), async (ctx) => (await import('./commands/image.js')).imageLoad(ctx, refs, opts)),
    );
  image
    .command('ls')
    .description("what each node's container runtime holds (image, ID, size)")
    .argument('<name>', 'cluster name')
    .addHelpText('after', examples(["what each node of cluster dev holds", 'mk image ls dev'], ['as JSON (one event a node)', 'mk image ls dev -o json']))
    .action(async (name: string, _opts: unknown, cmd: Command) => rt.run(globals(cmd), async (ctx) => (await import('./commands/image.js')).imageList(ctx, name)));

  program
    .command('version')
    .description("mk's version and commit, Node's, the Docker engine's and the default Kubernetes version")
    .addHelpText(
      'after',
      examples(
        ['every version, the Docker engine asked (3 s at most)', 'mk version'],
        ['as JSON or YAML', 'mk version -o json'],
        ["mk's version alone, without asking anything", 'mk --version'],
      ),
    )
    .action(async (_opts: object, cmd: Command) => rt.run(globals(cmd), async (ctx) => (await import('./commands/version.js')).version(ctx)));

  const listAction = async (_opts: object, cmd: Command) => rt.run(globals(cmd), async (ctx) => (await import('./commands/list.js')).list(ctx));
  program
    .command('list')
    .alias('ls')
    .description('the clusters mk finds, one line each: driver, nodes ready/total, Kubernetes version, health')
    .addHelpText(
      'after',
      examples(
        ['every cluster mk finds (Docker engine and remembered ssh hosts)', 'mk list'],
        ['their names only, one a line (what shell completion reads)', 'mk list -o name'],
        ['as YAML (or -o json)', 'mk list -o yaml'],
      ),
    )
    .action(listAction);

  program
    .command('get')
    .description('kubectl-style listing: mk get clusters is mk list')
    .addArgument(new Argument('<resource>', 'what to list').choices(['clusters', 'cluster']))
    .addHelpText('after', examples(['as mk list', 'mk get clusters'], ['their names only', 'mk get clusters -o name']))
    .action((_resource: string, opts: object, cmd: Command) => listAction(opts, cmd));

  program
    .command('init')
    .description('write a starter cluster.yaml (never over an existing file), and the JSON Schema its modeline names next to it')
    .addArgument(completes(new Argument('[name]', 'the cluster\'s name (default: dev)'), 'none'))
    .option('-f, --file <path>', 'the spec file to write', 'cluster.yaml')
    .addOption(
      new Option('--addon <name>', 'an addon of the catalog to enable (repeat, or separate by commas)').argParser((value: string, prev: string[] = []) => [
        ...prev,
        ...value.split(',').map((a) => a.trim()).filter(Boolean),
      ]),
    )
    .addHelpText(
      'after',
      examples(
        ['cluster.yaml for a cluster "dev", and cluster.v1alpha1.json for editors', 'mk init'],
        ['cluster "web" with two catalog addons, in a folder of specs', 'mk init web --addon metrics-server,storage -f clusters/web.yaml'],
      ),
    )
    .action(async (name: string | undefined, opts: { file: string; addon?: string[] }, cmd: Command) =>
      rt.run(globals(cmd), async (ctx) => (await import('./commands/init.js')).init(ctx, { name: name ?? 'dev', file: opts.file, addons: opts.addon ?? [] })),
    );

  program
    .command('schema')
    .description('print the JSON Schema of cluster.yaml (apiVersion mk.dev/v1alpha1), for editors and CI')
    .addHelpText(
      'after',
      examples(
        ['refresh the schema mk init wrote, after upgrading mk', 'mk schema > cluster.v1alpha1.json'],
        ['as YAML', 'mk schema -o yaml'],
      ),
    )
    .action(async (_opts: object, cmd: Command) => rt.run(globals(cmd), async (ctx) => (await import('./commands/init.js')).schema(ctx)));

  program
    .command('completion')
    .description('print a shell completion script: commands, options, cluster names (from mk list -o name when you press Tab), addon names')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh', 'fish']))
    .addHelpText(
      'after',
      examples(
        ['bash: this shell, then every new one', 'source <(mk completion bash)\necho \'source <(mk completion bash)\' >> ~/.bashrc'],
        ['zsh (after compinit in ~/.zshrc)', 'source <(mk completion zsh)'],
        ['fish', 'mk completion fish > ~/.config/fish/completions/mk.fish'],
      ),
    )
    .action(async (shell: 'bash' | 'zsh' | 'fish', _opts: object, cmd: Command) =>
      rt.run(globals(cmd), async (ctx) => (await import('./commands/completion.js')).completion(ctx, shell, completionModel(program))),
    );

  // The global options are listed once, in mk --help; every command (subcommands too) points there.
  const pointTo = (cmds: readonly Command[]): void => {
    for (const cmd of cmds) {
      cmd.addHelpText('after', '\nGlobal options (-o, -v, --trust-new-host-keys): mk --help');
      pointTo(cmd.commands);
    }
  };
  pointTo(program.commands);
  return program;
}

/** What the shell completes, by convention where no completes() said otherwise. */
function completesFor(target: Option | Argument): Completes {
  const set = COMPLETES.get(target);
  if (set) return set;
  if (target.argChoices) return target.argChoices;
  const name = target instanceof Option ? target.attributeName() : target.name();
  if (name === 'file') return 'file';
  if (name === 'outputDir') return 'dir';
  if (name === 'name' || name === 'cluster') return 'cluster';
  if (name === 'addon') return 'addon';
  return 'none';
}

/** The command tree as the completion scripts need it: names, aliases, options and what their values are. */
export function completionModel(cmd: Command): CommandModel {
  return {
    name: cmd.name(),
    aliases: cmd.aliases(),
    description: cmd.description(),
    flags: [
      ...cmd.options
        .filter((o) => !o.hidden)
        .map((o) => ({
          names: [o.short, o.long].filter((n): n is string => Boolean(n)),
          description: o.description,
          ...(o.required || o.optional ? { value: completesFor(o) } : {}),
        })),
      ...(cmd.parent ? [{ names: ['-h', '--help'], description: 'help for this command' }] : []),
    ],
    args: cmd.registeredArguments.map(completesFor),
    variadic: cmd.registeredArguments.at(-1)?.variadic ?? false,
    commands: cmd.commands.map(completionModel),
  };
}
