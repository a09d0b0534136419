// Commands and files on a host, over the pool's connection: argv becomes one command line through
// quote.ts (sudo -n when asked and configured, env), files travel by SFTP and are moved into place
// by a constant script. Logs name the command and count its arguments; never their values or stdin.
import { CommandError } from '../../errors.js';
import type { ExecOptions, ExecResult, NodeHandle } from '../types.js';
import type { SshConnection } from './connection.js';
import type { ConnectionPool, Host, SshLog } from './pool.js';
import { shellQuote } from './quote.js';

export interface RunOptions extends ExecOptions {
  /** Run as root: through `sudo -n` when spec.driver.ssh.sudo is set and the login user is not root. Default false. */
  asRoot?: boolean;
  /** Throw CommandError on a non-zero exit. Default false. */
  check?: boolean;
  /** Overrides spec.driver.ssh.timeouts.command. */
  timeoutMs?: number;
}

/** Run as root, and a non-zero exit throws. */
export const ROOT_CHECKED = { asRoot: true, check: true } as const satisfies RunOptions;

const INSTALL_SCRIPT = [
  // $1 staged upload, $2 destination, $3 octal mode. Atomic replace; the staged file always goes.
  'trap \'rm -f -- "$1"\' EXIT',
  'set -e',
  'mkdir -p -- "$(dirname -- "$2")"',
  'install -m "$3" -- "$1" "$2.mk-new"',
  'mv -f -- "$2.mk-new" "$2"',
].join('\n');

export class Remote {
  constructor(
    private readonly pool: ConnectionPool,
    /** spec.driver.ssh.sudo */
    private readonly sudo: boolean,
    private readonly log: SshLog,
  ) {}

  async run(h: Host, argv: readonly string[], opts: RunOptions = {}): Promise<ExecResult> {
    return this.runOver(await this.pool.connection(h, opts.signal), h, argv, opts);
  }

  /** Like run, but only over a connection that is open now (never connects); undefined when there is none. */
  async runIfConnected(h: Host, argv: readonly string[], opts: RunOptions = {}): Promise<ExecResult | undefined> {
    const conn = await this.pool.openConnection(h.name);
    return conn ? this.runOver(conn, h, argv, opts) : undefined;
  }

  /** Writes a file as root with the given mode (parents created): staged by SFTP (0600), then moved into place. */
  async writeFile(h: Host, path: string, content: string | Buffer, mode: number, signal?: AbortSignal): Promise<void> {
    const conn = await this.pool.connection(h, signal);
    const started = Date.now();
    const staged = await conn.upload(content, signal);
    this.log('ssh writeFile', { node: h.name, host: h.address, path, mode: mode.toString(8), bytes: Buffer.byteLength(content), ms: Date.now() - started });
    await this.run(h, ['sh', '-c', INSTALL_SCRIPT, 'mk-install', staged, path, mode.toString(8).padStart(4, '0')], { ...ROOT_CHECKED, signal });
  }

  private async runOver(conn: SshConnection, h: Host, argv: readonly string[], opts: RunOptions): Promise<ExecResult> {
    const started = Date.now();
    const r = await conn.exec(this.command(argv, opts, conn), { stdin: opts.stdin, signal: opts.signal, timeoutMs: opts.timeoutMs });
    const ms = Date.now() - started;
    this.pool.recordCommand(h.name, ms);
    // argv[0] and the count only: arguments may carry paths of secrets; stdin and env values never.
    this.log('ssh exec', { node: h.name, host: h.address, command: argv[0], args: argv.length - 1, exitCode: r.exitCode, ms });
    if (opts.check && r.exitCode !== 0) throw new CommandError(argv, r.exitCode, r.stdout, r.stderr, `host ${h.name} (${h.address})`);
    return r;
  }

  /** argv -> the command line: sudo when asked (and the login user is not root), env, one quoting helper. */
  private command(argv: readonly string[], opts: RunOptions, conn: SshConnection): string {
    const prefix: string[] = [];
    if (opts.user !== undefined) prefix.push('sudo', '-n', '-u', opts.user, '--');
    else if (opts.asRoot && this.sudo && conn.endpoint.user !== 'root') prefix.push('sudo', '-n', '--');
    // env rides on the command line (sshd accepts few variables): never for secrets, which go in files.
    const env = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`);
    return shellQuote([...prefix, ...(env.length > 0 ? ['env', ...env] : []), ...argv]);
  }
}

/**
 * A node's handle over ssh: its commands run as root (sudo -n when configured), as the Docker
 * driver's do, on the host `target` resolves for each call (after whatever the driver checks first).
 */
export function sshNodeHandle(name: string, remote: Remote, target: (signal: AbortSignal | undefined) => Promise<Host>): NodeHandle {
  const exec = async (argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> => remote.run(await target(opts.signal), argv, { ...opts, asRoot: true });
  return {
    name,
    exec,
    run: async (argv, opts) => {
      const r = await exec(argv, opts);
      if (r.exitCode !== 0) throw new CommandError(argv, r.exitCode, r.stdout, r.stderr, `node ${name}`);
      return r;
    },
    writeFile: async (path, content, mode, opts) => remote.writeFile(await target(opts?.signal), path, content, mode, opts?.signal),
  };
}
