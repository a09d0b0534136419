// The run's connections: one per host, opened on first use and opened again once when it was lost
// (idle timeout, dropped peer), and one per jump host, shared by every host behind it. Where to
// connect comes from the spec and ~/.ssh/config (ssh-config.ts), how to log in from auth.ts, which
// host keys to accept from known-hosts.ts. Per host it counts connects and busy time; close() logs
// them as the run's closing report.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from 'ssh2';
import type { SshDriverOptions } from '../../spec/types.js';
import { loadAuth } from './auth.js';
import type { Auth } from './auth.js';
import { SshConnection, abortReason, describeEndpoint } from './connection.js';
import type { Timeouts } from './connection.js';
import type { KnownHosts } from './known-hosts.js';
import { localUserName, resolveHost } from './ssh-config.js';
import type { Endpoint, ResolvedHost } from './ssh-config.js';

export type SshLog = (message: string, context?: Record<string, unknown>) => void;

/** A host as the spec or the host inventory names it; connections and timings are keyed by its node name. */
export interface Host {
  name: string;
  address: string;
  port?: number | undefined;
  user?: string | undefined;
}

export interface HostTiming {
  connectMs: number;
  connects: number;
  commands: number;
  busyMs: number;
}

export interface PoolConfig {
  options: SshDriverOptions;
  timeouts: Timeouts;
  /** Local home (~/.ssh/config, default keys). */
  home: string;
  /** ~/.ssh/config text; false = ignore it; undefined: read <home>/.ssh/config. */
  sshConfig: string | false | undefined;
  /** SSH_AUTH_SOCK; undefined: process.env.SSH_AUTH_SOCK. */
  agentSocket: string | undefined;
  knownHosts: KnownHosts;
  log: SshLog;
}

export class ConnectionPool {
  /** Per host: connect time and busy time, for the closing report (close()). */
  readonly timings = new Map<string, HostTiming>();
  private readonly connections = new Map<string, Promise<SshConnection>>();
  private readonly jumps = new Map<string, Promise<Client>>();
  private readonly resolved = new Map<string, ResolvedHost>();
  private sshConfigText: Promise<string | undefined> | undefined;
  private auth: Promise<Auth> | undefined;

  constructor(private readonly config: PoolConfig) {}

  /** Where a host was reached (after its first connection). */
  endpoint(name: string): ResolvedHost | undefined {
    return this.resolved.get(name);
  }

  connection(h: Host, signal?: AbortSignal): Promise<SshConnection> {
    const existing = this.connections.get(h.name);
    if (existing) {
      return existing.then((c) => {
        if (c.isOpen) return c;
        // Lost mid-run: one fresh attempt (which fails within the connect timeout if the host is gone).
        if (this.connections.get(h.name) === existing) this.connections.delete(h.name);
        return this.connection(h, signal);
      });
    }
    const p = this.open(h);
    this.connections.set(h.name, p);
    p.catch(() => {});
    return withAbort(p, signal);
  }

  /** The host's connection if it is open now; never connects. */
  async openConnection(name: string): Promise<SshConnection | undefined> {
    try {
      const c = await this.connections.get(name);
      return c?.isOpen ? c : undefined;
    } catch {
      return undefined;
    }
  }

  /** Counts a command's time against its host. */
  recordCommand(name: string, ms: number): void {
    const t = this.timings.get(name);
    if (t) {
      t.commands++;
      t.busyMs += ms;
    }
  }

  /** Closes every connection (jump hosts last) and logs the closing report. */
  close(): void {
    for (const [node, t] of this.timings) this.config.log('ssh host timings', { node, ...t });
    for (const p of this.connections.values()) p.then((c) => c.close()).catch(() => {});
    this.connections.clear();
    for (const p of this.jumps.values()) p.then((c) => c.end()).catch(() => {});
    this.jumps.clear();
  }

  private async open(h: Host): Promise<SshConnection> {
    const { knownHosts, log, timeouts } = this.config;
    const r = await this.resolve(h);
    this.auth ??= this.loadAuth(r);
    const auth = await this.auth;
    await knownHosts.load();
    const jump = r.jump;
    const conn = await SshConnection.open({
      name: h.name,
      endpoint: r,
      jump: jump ? () => this.jumpClient(jump, auth) : undefined,
      auth,
      check: (e, key) => knownHosts.check(e, key),
      timeouts,
    });
    await knownHosts.flush();
    const before = this.timings.get(h.name);
    this.timings.set(h.name, { connectMs: conn.connectMs, connects: (before?.connects ?? 0) + 1, commands: before?.commands ?? 0, busyMs: before?.busyMs ?? 0 });
    log('ssh connected', { node: h.name, host: describeEndpoint(r), via: r.jump ? describeEndpoint(r.jump) : undefined, ms: conn.connectMs });
    return conn;
  }

  /** Keys are read once per run, from the first host's identity files (the spec's, else ~/.ssh/config's, else the defaults). */
  private loadAuth(r: ResolvedHost): Promise<Auth> {
    const { options, agentSocket, home } = this.config;
    const agent = (options.useAgent ?? true) ? (agentSocket ?? process.env.SSH_AUTH_SOCK) : undefined;
    return loadAuth({ identityFiles: r.identityFiles, named: options.identityFile !== undefined, agent, home });
  }

  private async resolve(h: Host): Promise<ResolvedHost> {
    let r = this.resolved.get(h.name);
    if (!r) {
      this.sshConfigText ??= this.readSshConfig();
      const o = this.config.options;
      r = resolveHost({
        address: h.address,
        port: h.port,
        user: h.user,
        defaults: { user: o.user, port: o.port, identityFile: o.identityFile, bastion: o.bastion },
        config: await this.sshConfigText,
        home: this.config.home,
        localUser: localUserName(),
      });
      this.resolved.set(h.name, r);
    }
    return r;
  }

  private async readSshConfig(): Promise<string | undefined> {
    const { sshConfig, home } = this.config;
    if (sshConfig === false) return undefined;
    if (typeof sshConfig === 'string') return sshConfig;
    try {
      return await readFile(join(home, '.ssh', 'config'), 'utf8');
    } catch {
      return undefined;
    }
  }

  /** One connection per jump host for the run, shared by every host behind it; dropped when it dies. */
  private jumpClient(e: Endpoint, auth: Auth): Promise<Client> {
    const key = describeEndpoint(e);
    let p = this.jumps.get(key);
    if (!p) {
      const { knownHosts, log, timeouts } = this.config;
      p = SshConnection.openJump(e, auth, (ep, k) => knownHosts.check(ep, k), timeouts).then(async (client) => {
        await knownHosts.flush();
        log('ssh connected to jump host', { host: key });
        client.setMaxListeners(0);
        client.once('close', () => {
          if (this.jumps.get(key) === p) this.jumps.delete(key);
        });
        return client;
      });
      this.jumps.set(key, p);
      p.catch(() => {
        if (this.jumps.get(key) === p) this.jumps.delete(key);
      });
    }
    return p;
  }
}

/** The caller stops waiting when its signal aborts; the shared promise carries on for others. */
function withAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err as Error);
      },
    );
  });
}
