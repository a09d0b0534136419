// One ssh2 connection to one host (optionally through a jump host), with host-key verification,
// timeouts and keepalive. Commands arrive as ready-quoted strings (quote.ts); stdin, abort and a
// per-command timeout are supported; a dead peer fails every pending command with an error naming it.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:os';
import { Readable, type Duplex } from 'node:stream';
// ssh2 is CommonJS: Node's ESM loader only offers its default export.
import ssh2 from 'ssh2';
import type { AnyAuthMethod, Client, ClientCallback, ClientChannel, ConnectConfig, PseudoTtyOptions, SFTPWrapper } from 'ssh2';
import { DriverError } from '../../errors.js';
import { SshConnectError } from '../errors.js';
import type { FailureKind } from '../errors.js';
import type { ExecResult, ShellRequest } from '../types.js';
import type { Auth } from './auth.js';
import type { Endpoint } from './ssh-config.js';
import { isNetworkErrorCode } from '../../net.js';

export interface Timeouts {
  /** TCP connect + SSH handshake + authentication. */
  connectMs: number;
  /** One command, start to exit. */
  commandMs: number;
  /** A connection with nothing running for this long is closed; the pool reopens it when needed. */
  idleMs: number;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = { connectMs: 15_000, commandMs: 15 * 60_000, idleMs: 60_000, keepaliveIntervalMs: 5_000, keepaliveCountMax: 3 };

/** Decides on a presented host key; returns an error message to refuse it. */
export type HostKeyCheck = (endpoint: Endpoint, key: Buffer) => string | undefined;

export function describeEndpoint(e: Endpoint): string {
  return `${e.user}@${e.hostname}${e.port === 22 ? '' : `:${e.port}`}`;
}

function authMethods(user: string, auth: Auth): AnyAuthMethod[] {
  const methods: AnyAuthMethod[] = [];
  if (auth.agent) methods.push({ type: 'agent', username: user, agent: auth.agent });
  for (const k of auth.keys) methods.push({ type: 'publickey', username: user, key: k.key });
  return methods;
}

function classify(err: unknown): FailureKind {
  const e = err as { level?: string; code?: string; message?: string };
  if (e.level === 'client-authentication') return 'auth';
  if (e.level === 'client-timeout') return 'unreachable';
  if (isNetworkErrorCode(e.code)) return 'unreachable';
  if (/keepalive timeout|timed out|connection lost|closed/i.test(String(e.message))) return 'unreachable';
  return 'other';
}

/** Opens an authenticated client over a fresh TCP connection or the given stream (jump). */
function openClient(e: Endpoint, name: string, auth: Auth, check: HostKeyCheck, t: Timeouts, sock?: Duplex): Promise<Client> {
  const where = `${name} (${describeEndpoint(e)})`;
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let refused: string | undefined;
    let settled = false;
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      client.end();
      if (refused !== undefined) return reject(new SshConnectError(name, 'host-key', refused));
      const kind = classify(err);
      const msg = (err as Error).message ?? String(err);
      if (kind === 'auth') {
        const tried = [auth.agent ? 'ssh-agent' : '', ...auth.keys.map((k) => k.file)].filter(Boolean).join(', ') || 'nothing (no agent, no identity file)';
        return reject(new SshConnectError(name, kind, `ssh to ${where}: authentication failed (tried ${tried})`, { cause: err }));
      }
      if (kind === 'unreachable') return reject(new SshConnectError(name, kind, `ssh to ${where}: host unreachable: ${msg}`, { cause: err }));
      reject(new SshConnectError(name, kind, `ssh to ${where}: ${msg}`, { cause: err }));
    };
    const methods = authMethods(e.user, auth);
    const config: ConnectConfig = {
      host: e.hostname,
      port: e.port,
      username: e.user,
      readyTimeout: t.connectMs,
      keepaliveInterval: t.keepaliveIntervalMs,
      keepaliveCountMax: t.keepaliveCountMax,
      hostVerifier: (key: Buffer): boolean => {
        refused = check(e, key);
        return refused === undefined;
      },
      authHandler: (_left, _partial, next) => {
        const m = methods.shift();
        next(m ?? (false as unknown as AnyAuthMethod));
      },
      ...(sock ? { sock } : {}),
    };
    // readyTimeout does not cover a stream that never answers; this timer does, whatever the stage.
    const timer = setTimeout(() => fail(Object.assign(new Error(`no answer within ${t.connectMs} ms`), { level: 'client-timeout' })), t.connectMs + 250);
    client.once('ready', () => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      resolve(client);
    });
    client.on('error', (err) => {
      clearTimeout(timer);
      fail(err);
    });
    client.once('close', () => {
      clearTimeout(timer);
      fail(new Error('connection closed during handshake'));
    });
    try {
      client.connect(config);
    } catch (err) {
      clearTimeout(timer);
      fail(err);
    }
  });
}

const signalNumbers = constants.signals;

export interface ExecStreamOptions {
  /** Written, or piped (at the command's pace), to the command's stdin, then closed. */
  stdin?: string | Buffer | Readable | undefined;
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
}

/** At most this many channels at once per connection (OpenSSH's MaxSessions default is 10). */
const MAX_CHANNELS = 8;

export class SshConnection {
  /** Milliseconds the connection took to come up (jump included). */
  connectMs = 0;
  private closed = false;
  private closeReason: string | undefined;
  private readonly pending = new Set<(err: Error) => void>();
  private sftp: Promise<SFTPWrapper> | undefined;
  private home: Promise<string> | undefined;
  private active = 0;
  private readonly queue: (() => void)[] = [];

  private constructor(
    readonly name: string,
    readonly endpoint: Endpoint,
    private readonly client: Client,
    private readonly jump: Client | undefined,
    private readonly timeouts: Timeouts,
  ) {
    const lost = (why: string): void => {
      if (this.closed) return;
      this.closed = true;
      this.closeReason = why;
      const err = new SshConnectError(name, 'unreachable', `connection to ${name} (${describeEndpoint(endpoint)}) lost: ${why}`);
      for (const reject of [...this.pending]) reject(err);
      this.pending.clear();
    };
    client.on('error', (err) => lost(err.message));
    client.on('close', () => lost('closed'));
    jump?.once('error', (err) => lost(`jump host: ${err.message}`));
    jump?.once('close', () => lost('jump host connection closed'));
  }

  /**
   * Connects to a host, directly or through a jump host. `jump` supplies the (shared) jump client: the
   * connection tunnels through it but does not own it; the caller closes it.
   */
  static async open(opts: { name: string; endpoint: Endpoint; jump?: (() => Promise<Client>) | undefined; auth: Auth; check: HostKeyCheck; timeouts: Timeouts }): Promise<SshConnection> {
    const { name, endpoint: e, auth, check, timeouts: t } = opts;
    const started = Date.now();
    let jumpClient: Client | undefined;
    let sock: Duplex | undefined;
    if (opts.jump) {
      jumpClient = await opts.jump();
      sock = await forward(jumpClient, e, name, t.connectMs);
    }
    const client = await openClient(e, name, auth, check, t, sock);
    const conn = new SshConnection(name, e, client, jumpClient, t);
    conn.connectMs = Date.now() - started;
    conn.armIdle();
    return conn;
  }

  /** An authenticated client to a jump host (shared by every host behind it). */
  static openJump(endpoint: Endpoint, auth: Auth, check: HostKeyCheck, timeouts: Timeouts): Promise<Client> {
    return openClient(endpoint, `jump host ${endpoint.alias}`, auth, check, timeouts);
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  private lostError(): SshConnectError {
    return new SshConnectError(this.name, 'unreachable', `connection to ${this.name} (${describeEndpoint(this.endpoint)}) lost: ${this.closeReason ?? 'closed'}`);
  }

  private async slot<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= MAX_CHANNELS) await new Promise<void>((r) => this.queue.push(r));
    this.active++;
    clearTimeout(this.idleTimer);
    try {
      return await fn();
    } finally {
      this.active--;
      this.queue.shift()?.();
      this.armIdle();
    }
  }

  private idleTimer: NodeJS.Timeout | undefined;

  private armIdle(): void {
    clearTimeout(this.idleTimer);
    if (this.active > 0 || this.closed) return;
    this.idleTimer = setTimeout(() => {
      if (this.active === 0) {
        this.closeReason = `idle for ${this.timeouts.idleMs} ms`;
        this.close();
      }
    }, this.timeouts.idleMs);
    this.idleTimer.unref();
  }

  /** Runs a command line (already quoted) and collects its output and exit code. */
  exec(command: string, opts: ExecStreamOptions = {}): Promise<ExecResult> {
    return this.slot(() => this.execNow(command, opts));
  }

  private execNow(command: string, opts: ExecStreamOptions): Promise<ExecResult> {
    const timeoutMs = opts.timeoutMs ?? this.timeouts.commandMs;
    const signal = opts.signal;
    return new Promise<ExecResult>((resolve, reject) => {
      if (this.closed) return reject(this.lostError());
      if (signal?.aborted) return reject(abortReason(signal));
      let channel: ClientChannel | undefined;
      let done = false;
      const input = opts.stdin instanceof Readable ? opts.stdin : undefined;
      const finish = (err: Error | undefined, result?: ExecResult): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        // A command that ended (or failed) before it read all of its input ends the input too.
        if (input && !input.readableEnded) {
          if (channel) input.unpipe(channel);
          input.destroy();
        }
        signal?.removeEventListener('abort', onAbort);
        this.pending.delete(onLost);
        if (err) {
          try {
            channel?.signal('KILL');
          } catch {
            /* the channel may be gone already */
          }
          channel?.close();
          reject(err);
        } else resolve(result!);
      };
      const onLost = (err: Error): void => finish(err);
      const onAbort = (): void => finish(abortReason(signal!));
      const timer = setTimeout(
        () => finish(new DriverError(`command on ${this.name} (${describeEndpoint(this.endpoint)}) timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.pending.add(onLost);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.client.exec(command, (err, stream) => {
        if (err) return finish(new DriverError(`exec on ${this.name}: ${err.message}`, { cause: err }));
        channel = stream;
        if (done) {
          stream.close();
          return;
        }
        const out: Buffer[] = [];
        const errs: Buffer[] = [];
        let code: number | null = null;
        let sig: string | undefined;
        stream.on('data', (d: Buffer) => out.push(d));
        stream.stderr.on('data', (d: Buffer) => errs.push(d));
        stream.on('exit', (c: number | null, s?: string) => {
          code = c;
          sig = s;
        });
        stream.on('close', () => {
          const stdout = Buffer.concat(out).toString('utf8');
          const stderr = Buffer.concat(errs).toString('utf8');
          if (code === null) return finish(new DriverError(`command on ${this.name} ended without an exit status${sig ? ` (signal ${sig})` : ''}`));
          finish(undefined, { stdout, stderr, exitCode: code });
        });
        if (input) {
          input.on('error', (e: Error) => finish(new DriverError(`command on ${this.name}: its input failed: ${e.message}`, { cause: e })));
          // Writing to a command that exited: its exit status and stderr say why, not the broken pipe.
          stream.on('error', () => {});
          input.pipe(stream);
        } else if (opts.stdin !== undefined) stream.end(opts.stdin);
        else stream.end();
      });
    });
  }

  /**
   * A session with the user's streams passed through (mk ssh): `command` (already quoted), or the login
   * shell when undefined; a pseudo-terminal when req.tty is set. No command timeout: the user ends it.
   * Resolves with the exit code (128 + the signal's number when the remote side was killed by one).
   */
  session(command: string | undefined, req: ShellRequest): Promise<number> {
    return this.slot(
      () =>
        new Promise<number>((resolve, reject) => {
          if (this.closed) return reject(this.lostError());
          const { tty, signal } = req;
          if (signal?.aborted) return reject(abortReason(signal));
          let channel: ClientChannel | undefined;
          let unsubscribe = (): void => {};
          const forward = (d: Buffer): void => void channel?.write(d);
          const endInput = (): void => void channel?.end();
          let settled = false;
          const finish = (err: Error | undefined, code?: number): void => {
            if (settled) return;
            settled = true;
            unsubscribe();
            req.stdin.off('data', forward);
            req.stdin.off('end', endInput);
            signal?.removeEventListener('abort', onAbort);
            this.pending.delete(onLost);
            if (err) {
              channel?.close();
              reject(err);
            } else resolve(code!);
          };
          const onLost = (err: Error): void => finish(err);
          const onAbort = (): void => finish(abortReason(signal!));
          this.pending.add(onLost);
          signal?.addEventListener('abort', onAbort, { once: true });
          const pty = (): PseudoTtyOptions => ({ term: tty!.term, rows: tty!.size().rows, cols: tty!.size().columns });
          const opened: ClientCallback = (err, stream) => {
            if (err) return finish(new DriverError(`session on ${this.name}: ${err.message}`, { cause: err }));
            channel = stream;
            if (settled) return void stream.close();
            let code: number | undefined;
            stream.on('data', (d: Buffer) => req.stdout.write(d));
            stream.stderr.on('data', (d: Buffer) => req.stderr.write(d));
            stream.on('exit', (c: number | null, sig?: string) => {
              // ssh2 names the signal as Node does ("SIGTERM").
              code = c ?? 128 + ((sig && signalNumbers[sig as keyof typeof signalNumbers]) || 1);
            });
            stream.on('close', () => finish(undefined, code ?? 255));
            if (tty) {
              const resize = (): void => {
                const { columns, rows } = tty.size();
                stream.setWindow(rows, columns, 0, 0);
              };
              unsubscribe = tty.onResize(resize);
            }
            req.stdin.on('data', forward);
            req.stdin.once('end', endInput);
          };
          if (command === undefined) this.client.shell(tty ? pty() : false, opened);
          else this.client.exec(command, tty ? { pty: pty() } : {}, opened);
        }),
    );
  }

  private getSftp(): Promise<SFTPWrapper> {
    this.sftp ??= new Promise<SFTPWrapper>((resolve, reject) => {
      this.client.sftp((err, sftp) => (err ? reject(new DriverError(`sftp on ${this.name}: ${err.message}`, { cause: err })) : resolve(sftp)));
    });
    this.sftp.catch(() => (this.sftp = undefined));
    return this.sftp;
  }

  /** The login user's home directory (where uploads are staged). */
  homeDir(): Promise<string> {
    this.home ??= this.getSftp().then(
      (sftp) => new Promise<string>((resolve, reject) => sftp.realpath('.', (err, p) => (err ? reject(new DriverError(`sftp realpath on ${this.name}: ${err.message}`)) : resolve(p)))),
    );
    return this.home;
  }

  /**
   * Uploads content to a fresh file (exclusive create, mode 0600) in the login user's home and returns
   * its path; the caller moves it into place. The content is never logged.
   */
  upload(content: string | Buffer, signal?: AbortSignal): Promise<string> {
    return this.slot(() => this.uploadNow(content, signal));
  }

  private async uploadNow(content: string | Buffer, signal?: AbortSignal): Promise<string> {
    if (this.closed) throw this.lostError();
    const home = await this.homeDir();
    const sftp = await this.getSftp();
    const path = `${home.replace(/\/$/, '')}/.mk-upload-${randomBytes(8).toString('hex')}`;
    await new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(abortReason(signal));
      const timer = setTimeout(() => reject(new DriverError(`upload to ${this.name} timed out after ${this.timeouts.commandMs} ms`)), this.timeouts.commandMs);
      const onLost = (err: Error): void => {
        clearTimeout(timer);
        reject(err);
      };
      this.pending.add(onLost);
      sftp.writeFile(path, content, { flag: 'wx', mode: 0o600 }, (err) => {
        clearTimeout(timer);
        this.pending.delete(onLost);
        if (err) reject(new DriverError(`upload to ${this.name}: ${err.message}`, { cause: err }));
        else resolve();
      });
    });
    return path;
  }

  close(): void {
    clearTimeout(this.idleTimer);
    this.closed = true;
    this.closeReason ??= 'closed by mk';
    this.client.end();
  }
}

function forward(jump: Client, e: Endpoint, name: string, timeoutMs: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new SshConnectError(name, 'unreachable', `ssh to ${name} (${describeEndpoint(e)}) through the jump host: no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    jump.forwardOut('127.0.0.1', 0, e.hostname, e.port, (err, stream) => {
      clearTimeout(timer);
      if (err) reject(new SshConnectError(name, 'unreachable', `ssh to ${name} (${describeEndpoint(e)}) through the jump host: ${err.message}`, { cause: err }));
      else resolve(stream);
    });
  });
}

/** The error an aborted operation rejects with: the signal's reason when it is an Error. */
export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error ? r : new DOMException('The operation was aborted', 'AbortError');
}
