// The ssh driver: nodes are machines the user already has. "Creating" a node prepares the host
// (facts, prerequisites, host lock, ownership marker); observing reads each host's marker; removing
// deletes the marker and leaves the machine alone. One connection per host per run, closed in close().
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { homedir, hostname, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import pLimit from 'p-limit';
import ssh2 from 'ssh2';
import type { Client } from 'ssh2';
import { CommandError, DriverError } from '../../errors.js';
import { clusterStateDir, mkHome, writePrivateFile } from '../../state.js';
import type { Cri, DesiredNode, Role, SshDriverOptions } from '../../spec/types.js';
import type { Driver, ExecOptions, ExecResult, NetworkRequest, NodeCreateRequest, NodeHandle, ObservedCluster, ObservedNetwork, ObservedNode } from '../types.js';
import { DEFAULT_TIMEOUTS, SshConnectError, SshConnection, describeEndpoint } from './connection.js';
import type { Auth, Timeouts } from './connection.js';
import { FACTS_SCRIPT, describeFacts, missingPrerequisites, parseFacts } from './facts.js';
import type { HostFacts, Requirements } from './facts.js';
import { ACQUIRE_SCRIPT, HostLockedError, LOCK_DIR, REFRESH_SCRIPT, RELEASE_SCRIPT, lockPath, parseAcquire } from './host-lock.js';
import type { LockOwner } from './host-lock.js';
import { MARKER_MODE, MARKER_PATH, READ_MARKER_SCRIPT, parseMarker, serializeMarker } from './marker.js';
import type { NodeMarker } from './marker.js';
import { knownHostsLine, knownHostsName, parseKnownHosts, verifyHostKey } from './known-hosts.js';
import { shellQuote } from './quote.js';
import { defaultIdentityFiles, expandPath, resolveHost } from './ssh-config.js';
import type { Endpoint, ResolvedHost } from './ssh-config.js';

export type SshLog = (message: string, context?: Record<string, unknown>) => void;

export interface SshDriverConfig {
  cluster: string;
  options: SshDriverOptions;
  /** The desired nodes (expandNodes): each carries its host. */
  nodes: DesiredNode[];
  cri: Cri;
  version?: string;
  log?: SshLog;
  /** Local home (for ~, ~/.ssh/config, default keys and known_hosts); default os.homedir(). */
  home?: string;
  /** mk's state directory (the host inventory lives there); default $MK_HOME. */
  mkHome?: string;
  /** ~/.ssh/config text; false = ignore it; default: read <home>/.ssh/config. */
  sshConfig?: string | false;
  /** SSH_AUTH_SOCK; default process.env.SSH_AUTH_SOCK. */
  agentSocket?: string | undefined;
  /** Overrides spec.driver.ssh.timeouts (tests use short ones). */
  timeouts?: Partial<Timeouts>;
  /** Host operations at once (observe, facts); default spec.driver.ssh.parallel, then 10. */
  parallel?: number;
  /** Host lock: stale after (default 30 s), refreshed every (default 10 s). */
  lock?: { staleMs?: number; refreshMs?: number };
  /**
   * Refuse hosts without kubeadm and kubelet (default false: with bootstrap kubeadm, mk installs the
   * release binaries of the spec's version on a host that has a runtime but not Kubernetes).
   */
  requireKubeBinaries?: boolean;
  /** Trust unknown hosts on first use (the --trust-on-first-use flag); default spec.driver.ssh.trustOnFirstUse. */
  trustOnFirstUse?: boolean;
}

/** A host mk connects to: a desired node, or one remembered in the inventory (removed from the spec). */
interface Target {
  name: string;
  pool: string;
  ordinal: number;
  role: Role;
  address: string;
  port?: number | undefined;
  user?: string | undefined;
  configHash?: string;
  desired: boolean;
}

interface InventoryEntry {
  address: string;
  port?: number;
  user?: string;
  pool: string;
  ordinal: number;
  role: Role;
  configHash: string;
}

interface Inventory {
  nodes: Record<string, InventoryEntry>;
}

interface HeldLock {
  target: Target;
  path: string;
  token: string;
  timer: NodeJS.Timeout;
  lost?: string;
}

const GLOBAL_KNOWN_HOSTS = '/etc/ssh/ssh_known_hosts';

const INSTALL_SCRIPT = [
  // $1 staged upload, $2 destination, $3 octal mode. Atomic replace; the staged file always goes.
  'trap \'rm -f -- "$1"\' EXIT',
  'set -e',
  'mkdir -p -- "$(dirname -- "$2")"',
  'install -m "$3" -- "$1" "$2.mk-new"',
  'mv -f -- "$2.mk-new" "$2"',
].join('\n');

export class SshDriver implements Driver {
  readonly name = 'ssh';
  private readonly opts: SshDriverOptions;
  private readonly timeouts: Timeouts;
  private readonly log: SshLog;
  private readonly home: string;
  private readonly stateHome: string;
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly desired: Map<string, Target>;
  private readonly connections = new Map<string, Promise<SshConnection>>();
  private readonly jumps = new Map<string, Promise<Client>>();
  private readonly facts = new Map<string, Promise<HostFacts>>();
  private readonly locks = new Map<string, Promise<HeldLock>>();
  private readonly resolved = new Map<string, ResolvedHost>();
  private auth: Promise<Auth> | undefined;
  private knownHosts: Promise<void> | undefined;
  private sshConfigText: Promise<string | undefined> | undefined;
  private preflight: Promise<void> | undefined;
  private inventoryChain: Promise<unknown> = Promise.resolve();
  private readonly owner: LockOwner;
  private readonly staleS: number;
  private readonly refreshMs: number;
  /** Per host: connect time and busy time, for the closing report. */
  readonly timings = new Map<string, { connectMs: number; connects: number; commands: number; busyMs: number }>();

  constructor(private readonly config: SshDriverConfig) {
    this.opts = config.options;
    const spec = config.options.timeouts ?? {};
    const sec = (v: number | undefined, fallback: number): number => (v !== undefined ? v * 1000 : fallback);
    this.timeouts = {
      connectMs: sec(spec.connect, DEFAULT_TIMEOUTS.connectMs),
      commandMs: sec(spec.command, DEFAULT_TIMEOUTS.commandMs),
      idleMs: sec(spec.idle, DEFAULT_TIMEOUTS.idleMs),
      keepaliveIntervalMs: sec(spec.keepaliveInterval, DEFAULT_TIMEOUTS.keepaliveIntervalMs),
      keepaliveCountMax: spec.keepaliveCountMax ?? DEFAULT_TIMEOUTS.keepaliveCountMax,
      ...config.timeouts,
    };
    this.log = config.log ?? (() => {});
    this.home = config.home ?? homedir();
    this.stateHome = config.mkHome ?? mkHome();
    this.limit = pLimit(config.parallel ?? config.options.parallel ?? 10);
    this.desired = new Map(
      config.nodes.map((n) => {
        if (!n.host) throw new DriverError(`node ${n.name} has no host (ssh pools list hosts)`);
        const t: Target = { name: n.name, pool: n.pool, ordinal: n.ordinal, role: n.role, address: n.host.address, port: n.host.port, user: n.host.user, desired: true };
        return [n.name, t];
      }),
    );
    this.staleS = Math.max(1, Math.round((config.lock?.staleMs ?? 30_000) / 1000));
    this.refreshMs = config.lock?.refreshMs ?? 10_000;
    this.owner = { pid: process.pid, host: hostname(), since: new Date().toISOString(), token: randomBytes(12).toString('hex') };
  }

  // ---- reads -------------------------------------------------------------------------------

  async observe(cluster: string, signal?: AbortSignal): Promise<ObservedCluster> {
    const targets = await this.targets(cluster);
    const results = await Promise.all(targets.map((t) => this.limit(() => this.observeTarget(cluster, t, signal))));
    const hard = results.filter((r): r is { error: Error } => 'error' in r);
    if (hard.length > 0) throw aggregate(hard.map((h) => h.error));
    const nodes = results.flatMap((r) => ('node' in r && r.node ? [r.node] : []));
    // What each desired host that is not a node yet has and still needs, for the plan.
    const hostNotes: Record<string, string> = {};
    const pending = targets.filter((t) => t.desired && !nodes.some((n) => n.name === t.name));
    await Promise.all(
      pending.map((t) =>
        this.limit(async () => {
          try {
            const f = await this.factsOf(t, signal);
            const missing = missingPrerequisites(f, this.requirements());
            hostNotes[t.name] = `${describeFacts(f)}; ${missing.length > 0 ? `needs: ${missing.join('; ')}` : 'ready'}`;
          } catch {
            /* facts are a nicety here; createNode checks them for real */
          }
        }),
      ),
    );
    return { name: cluster, nodes, orphanVolumes: [], ...(Object.keys(hostNotes).length > 0 ? { hostNotes } : {}) };
  }

  async listClusters(signal?: AbortSignal): Promise<string[]> {
    const names = new Set<string>();
    const targets = await this.targets(this.config.cluster);
    await Promise.all(
      targets.map((t) =>
        this.limit(async () => {
          try {
            const m = await this.readMarker(t, signal);
            if (m) names.add(m.cluster);
          } catch {
            /* unreachable hosts name no cluster */
          }
        }),
      ),
    );
    return [...names].sort();
  }

  // ---- network: ssh hosts bring their own ---------------------------------------------------

  ensureNetwork(req: NetworkRequest): Promise<ObservedNetwork> {
    return Promise.resolve({ id: 'ssh', name: req.name ?? 'host network' });
  }

  removeNetwork(): Promise<void> {
    return Promise.resolve();
  }

  removeVolume(): Promise<void> {
    return Promise.resolve();
  }

  // ---- nodes -------------------------------------------------------------------------------

  async createNode(req: NodeCreateRequest, signal?: AbortSignal): Promise<ObservedNode> {
    const { node } = req;
    const t = this.desired.get(node.name);
    if (!t) throw new DriverError(`node ${node.name} is not a host of cluster ${node.cluster} in this spec`);
    // Every desired host is checked at once, so all missing prerequisites come in one error.
    this.preflight ??= this.checkPrerequisites(signal);
    await this.preflight;
    await this.lockHost(t, signal);
    const existing = await this.readMarker(t, signal);
    if (existing && existing.cluster !== node.cluster) {
      throw new DriverError(`host ${t.address} is node ${existing.node} of cluster ${existing.cluster} (${MARKER_PATH}); mk will not take it for cluster ${node.cluster}`);
    }
    if (existing && existing.node === node.name && existing.configHash === req.configHash) return this.observedFromMarker(t, existing);
    await this.remember(node.cluster, t, req.configHash);
    const marker: NodeMarker = {
      cluster: node.cluster,
      node: node.name,
      pool: node.pool,
      ordinal: node.ordinal,
      role: node.role,
      configHash: req.configHash,
      createdBy: `mk ${this.config.version ?? 'dev'}`,
      createdAt: new Date().toISOString(),
    };
    await this.writeFileOn(t, MARKER_PATH, serializeMarker(marker), MARKER_MODE, signal);
    const facts = await this.factsOf(t, signal);
    this.log('ssh host prepared', { node: t.name, host: t.address, facts: describeFacts(facts) });
    return this.observedFromMarker(t, marker);
  }

  async startNode(cluster: string, name: string, signal?: AbortSignal): Promise<void> {
    // A reachable host with its marker is running; this only proves it answers.
    const t = await this.target(cluster, name);
    await this.connection(t, signal);
  }

  async removeNode(cluster: string, name: string, signal?: AbortSignal): Promise<void> {
    const t = await this.target(cluster, name);
    await this.lockHost(t, signal);
    const m = await this.readMarker(t, signal);
    if (m && m.cluster !== cluster) {
      throw new DriverError(`host ${t.address} is node ${m.node} of cluster ${m.cluster}; mk will not remove it from cluster ${cluster}`);
    }
    if (m) {
      await this.runOn(t, ['rm', '-f', '--', MARKER_PATH], { signal }, true);
      // mk's directory goes too when nothing else is left in it; the machine stays as it was.
      await this.runOn(t, ['rmdir', '--ignore-fail-on-non-empty', '--', dirname(MARKER_PATH)], { signal }, true, false);
    }
    await this.forget(cluster, name);
  }

  node(cluster: string, name: string): NodeHandle {
    const target = (): Promise<Target> => this.target(cluster, name);
    const exec = async (argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> => {
      const t = await target();
      await this.lockHost(t, opts.signal);
      // Node commands run as root (sudo -n when configured), as the Docker driver's do.
      return this.runOn(t, argv, opts, true, false);
    };
    return {
      name,
      exec,
      run: async (argv, opts) => {
        const r = await exec(argv, opts);
        if (r.exitCode !== 0) throw new CommandError(argv, r.exitCode, r.stdout, r.stderr, `node ${name}`);
        return r;
      },
      writeFile: async (path, content, mode, opts) => {
        const t = await target();
        await this.lockHost(t, opts?.signal);
        await this.writeFileOn(t, path, content, mode, opts?.signal);
      },
    };
  }

  /** Facts of every desired host (parallel); unreachable ones are left out. */
  async gatherFacts(signal?: AbortSignal): Promise<Map<string, HostFacts>> {
    const out = new Map<string, HostFacts>();
    await Promise.all(
      [...this.desired.values()].map((t) =>
        this.limit(async () => {
          try {
            out.set(t.name, await this.factsOf(t, signal));
          } catch (err) {
            if (!(err instanceof SshConnectError && err.kind === 'unreachable')) throw err;
          }
        }),
      ),
    );
    return out;
  }

  async close(): Promise<void> {
    const locks = [...this.locks.entries()];
    this.locks.clear();
    await Promise.all(
      locks.map(async ([, p]) => {
        try {
          const held = await p;
          clearInterval(held.timer);
          // Only over a live connection: a host that went away keeps its lock until it goes stale,
          // rather than holding up the end of the run for another connect timeout.
          const conn = await this.connections.get(held.target.name);
          if (!conn?.isOpen) return;
          await conn.exec(this.command(['sh', '-c', RELEASE_SCRIPT, 'mk-unlock', held.path, held.token], true, conn), { timeoutMs: 5_000 });
        } catch {
          /* a lock we never got, or a host gone: it goes stale on its own */
        }
      }),
    );
    for (const p of this.connections.values()) p.then((c) => c.close()).catch(() => {});
    this.connections.clear();
    for (const p of this.jumps.values()) p.then((c) => c.end()).catch(() => {});
    this.jumps.clear();
  }

  // ---- internals ---------------------------------------------------------------------------

  private async checkPrerequisites(signal?: AbortSignal): Promise<void> {
    const facts = await this.gatherFacts(signal);
    const problems: string[] = [];
    for (const t of this.desired.values()) {
      const f = facts.get(t.name);
      if (!f) continue;
      const missing = missingPrerequisites(f, this.requirements());
      if (missing.length > 0) problems.push(`  ${t.name} (${t.address}): ${missing.join('; ')}`);
    }
    if (problems.length > 0) {
      throw new DriverError(`${problems.length} host${problems.length === 1 ? '' : 's'} of cluster ${this.config.cluster} cannot become nodes yet:\n${problems.join('\n')}`);
    }
  }

  private requirements(): Requirements {
    return { cri: this.config.cri, sudo: this.opts.sudo === true, kubeBinaries: this.config.requireKubeBinaries ?? false };
  }

  private factsOf(t: Target, signal?: AbortSignal): Promise<HostFacts> {
    let p = this.facts.get(t.name);
    if (!p) {
      p = (async () => {
        const r = await this.runOn(t, ['sh', '-c', FACTS_SCRIPT, 'mk-facts', this.opts.sudo ? '1' : '0'], signal ? { signal } : {}, false, false);
        const f = parseFacts(r.stdout);
        this.log('ssh facts', { node: t.name, host: t.address, facts: describeFacts(f) });
        return f;
      })();
      this.facts.set(t.name, p);
      p.catch(() => this.facts.delete(t.name));
    }
    return p;
  }

  private async observeTarget(cluster: string, t: Target, signal?: AbortSignal): Promise<{ node?: ObservedNode } | { error: Error }> {
    try {
      const m = await this.readMarker(t, signal);
      if (!m || m.cluster !== cluster) return {};
      return { node: this.observedFromMarker(t, m) };
    } catch (err) {
      if (err instanceof SshConnectError && err.kind === 'unreachable') {
        return {
          node: {
            name: t.name,
            pool: t.pool,
            ordinal: t.ordinal,
            role: t.role,
            id: `${t.address}:${t.port ?? this.opts.port ?? 22}`,
            state: 'unreachable',
            address: t.address,
            image: '',
            configHash: t.configHash ?? '',
            detail: err.message,
          },
        };
      }
      return { error: err as Error };
    }
  }

  private observedFromMarker(t: Target, m: NodeMarker): ObservedNode {
    const r = this.resolved.get(t.name);
    return {
      name: m.node,
      pool: m.pool,
      ordinal: m.ordinal,
      role: m.role,
      id: r ? describeEndpoint(r) : t.address,
      state: 'running',
      address: r?.hostname ?? t.address,
      image: '',
      configHash: m.configHash,
    };
  }

  private async readMarker(t: Target, signal?: AbortSignal): Promise<NodeMarker | undefined> {
    const r = await this.runOn(t, ['sh', '-c', READ_MARKER_SCRIPT, 'mk-marker', MARKER_PATH], signal ? { signal } : {}, true);
    return parseMarker(r.stdout);
  }

  private async writeFileOn(t: Target, path: string, content: string | Buffer, mode: number, signal?: AbortSignal): Promise<void> {
    const conn = await this.connection(t, signal);
    const started = Date.now();
    const staged = await conn.upload(content, signal);
    this.log('ssh writeFile', { node: t.name, host: t.address, path, mode: mode.toString(8), bytes: Buffer.byteLength(content), ms: Date.now() - started });
    await this.runOn(t, ['sh', '-c', INSTALL_SCRIPT, 'mk-install', staged, path, mode.toString(8).padStart(4, '0')], signal ? { signal } : {}, true);
  }

  /** Runs argv on a host; privileged = through sudo when configured; check = throw on non-zero exit. */
  private async runOn(t: Target, argv: readonly string[], opts: ExecOptions, privileged: boolean, check = privileged): Promise<ExecResult> {
    const conn = await this.connection(t, opts.signal);
    const command = this.command(argv, privileged || opts.user !== undefined, conn, opts);
    const started = Date.now();
    // argv[0] and the count only: arguments may carry paths of secrets; stdin and env values never.
    const r = await conn.exec(command, { stdin: opts.stdin, signal: opts.signal });
    const ms = Date.now() - started;
    const timing = this.timings.get(t.name);
    if (timing) {
      timing.commands++;
      timing.busyMs += ms;
    }
    this.log('ssh exec', { node: t.name, host: t.address, command: argv[0], args: argv.length - 1, exitCode: r.exitCode, ms });
    if (check && r.exitCode !== 0) throw new CommandError(argv, r.exitCode, r.stdout, r.stderr, `host ${t.name} (${t.address})`);
    return r;
  }

  /** argv -> the command line: sudo when asked (and the login user is not root), env, one quoting helper. */
  private command(argv: readonly string[], privileged: boolean, conn: SshConnection, opts: ExecOptions = {}): string {
    const prefix: string[] = [];
    if (opts.user !== undefined) prefix.push('sudo', '-n', '-u', opts.user, '--');
    else if (privileged && this.opts.sudo && conn.endpoint.user !== 'root') prefix.push('sudo', '-n', '--');
    // env rides on the command line (sshd accepts few variables): never for secrets, which go in files.
    const env = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`);
    return shellQuote([...prefix, ...(env.length > 0 ? ['env', ...env] : []), ...argv]);
  }

  private async lockHost(t: Target, signal?: AbortSignal): Promise<void> {
    let p = this.locks.get(t.name);
    if (!p) {
      p = this.acquire(t, signal);
      this.locks.set(t.name, p);
      p.catch(() => this.locks.delete(t.name));
    }
    const held = await p;
    if (held.lost) throw new DriverError(`lost the lock on host ${t.name} (${t.address}): ${held.lost}`);
  }

  private async acquire(t: Target, signal?: AbortSignal): Promise<HeldLock> {
    const path = lockPath(this.config.cluster);
    const owner = JSON.stringify(this.owner);
    const r = await this.runOn(t, ['sh', '-c', ACQUIRE_SCRIPT, 'mk-lock', path, owner, String(this.staleS), this.owner.token], signal ? { signal } : {}, true);
    const outcome = parseAcquire(r.stdout);
    if (outcome.status === 'held') throw new HostLockedError(t.name, t.address, outcome.holder, this.staleS);
    if (outcome.takenOverAfterS !== undefined) this.log('ssh stale host lock taken over', { node: t.name, host: t.address, ageS: outcome.takenOverAfterS });
    const held: HeldLock = { target: t, path, token: this.owner.token, timer: undefined as unknown as NodeJS.Timeout };
    held.timer = setInterval(() => {
      this.runOn(t, ['sh', '-c', REFRESH_SCRIPT, 'mk-lock-refresh', path, held.token], {}, true)
        .then((res) => {
          if (res.stdout.trim() !== 'ok') held.lost = `${LOCK_DIR} no longer names this mk`;
        })
        .catch((err: unknown) => this.log('ssh lock refresh failed', { node: t.name, error: String(err) }));
    }, this.refreshMs);
    held.timer.unref();
    return held;
  }

  private async target(cluster: string, name: string): Promise<Target> {
    const t = this.desired.get(name) ?? (await this.targets(cluster)).find((x) => x.name === name);
    if (!t) throw new DriverError(`node ${name} of cluster ${cluster}: no host known (not in the spec, not in ${this.inventoryFile(cluster)})`);
    return t;
  }

  /** Desired hosts plus hosts remembered in the inventory (removed from the spec since). */
  private async targets(cluster: string): Promise<Target[]> {
    const out = [...this.desired.values()];
    const seen = new Set(out.map((t) => `${t.address}:${t.port ?? ''}`));
    const inv = await this.readInventory(cluster);
    for (const [name, e] of Object.entries(inv.nodes)) {
      const key = `${e.address}:${e.port ?? ''}`;
      if (this.desired.has(name) || seen.has(key)) continue;
      seen.add(key);
      out.push({ name, pool: e.pool, ordinal: e.ordinal, role: e.role, address: e.address, port: e.port, user: e.user, configHash: e.configHash, desired: false });
    }
    return out;
  }

  private inventoryFile(cluster: string): string {
    return join(clusterStateDir(cluster, this.stateHome), 'ssh-hosts.json');
  }

  private async readInventory(cluster: string): Promise<Inventory> {
    try {
      const inv = JSON.parse(await readFile(this.inventoryFile(cluster), 'utf8')) as Inventory;
      return inv && typeof inv.nodes === 'object' ? inv : { nodes: {} };
    } catch {
      return { nodes: {} };
    }
  }

  private updateInventory(cluster: string, fn: (inv: Inventory) => void): Promise<void> {
    const run = this.inventoryChain.then(async () => {
      const inv = await this.readInventory(cluster);
      fn(inv);
      await writePrivateFile(clusterStateDir(cluster, this.stateHome), 'ssh-hosts.json', JSON.stringify(inv, null, 2) + '\n');
    });
    this.inventoryChain = run.catch(() => undefined);
    return run;
  }

  private remember(cluster: string, t: Target, configHash: string): Promise<void> {
    return this.updateInventory(cluster, (inv) => {
      inv.nodes[t.name] = {
        address: t.address,
        ...(t.port !== undefined ? { port: t.port } : {}),
        ...(t.user !== undefined ? { user: t.user } : {}),
        pool: t.pool,
        ordinal: t.ordinal,
        role: t.role,
        configHash,
      };
    });
  }

  private forget(cluster: string, name: string): Promise<void> {
    return this.updateInventory(cluster, (inv) => {
      delete inv.nodes[name];
    });
  }

  // ---- connections ---------------------------------------------------------------------------

  private async resolve(t: Target): Promise<ResolvedHost> {
    let r = this.resolved.get(t.name);
    if (!r) {
      this.sshConfigText ??= this.readSshConfig();
      const o = this.opts;
      r = resolveHost({
        address: t.address,
        port: t.port,
        user: t.user,
        defaults: { user: o.user, port: o.port, identityFile: o.identityFile, bastion: o.bastion },
        config: await this.sshConfigText,
        home: this.home,
        localUser: safeUserName(),
      });
      this.resolved.set(t.name, r);
    }
    return r;
  }

  private async readSshConfig(): Promise<string | undefined> {
    if (this.config.sshConfig === false) return undefined;
    if (typeof this.config.sshConfig === 'string') return this.config.sshConfig;
    try {
      return await readFile(join(this.home, '.ssh', 'config'), 'utf8');
    } catch {
      return undefined;
    }
  }

  private connection(t: Target, signal?: AbortSignal): Promise<SshConnection> {
    const existing = this.connections.get(t.name);
    if (existing) {
      return existing.then((c) => {
        if (c.isOpen) return c;
        // Lost mid-run: one fresh attempt (which fails within the connect timeout if the host is gone).
        if (this.connections.get(t.name) === existing) this.connections.delete(t.name);
        return this.connection(t, signal);
      });
    }
    const p = (async () => {
      const r = await this.resolve(t);
      const auth = await this.authConfig(r);
      await this.loadKnownHosts();
      const check = (e: Endpoint, key: Buffer): string | undefined => this.checkHostKey(e, key);
      const jump = r.jump;
      const conn = await SshConnection.open({ name: t.name, endpoint: r, jump: jump ? () => this.jumpClient(jump, auth) : undefined, auth, check, timeouts: this.timeouts });
      await this.flushKnownHosts();
      const before = this.timings.get(t.name);
      this.timings.set(t.name, { connectMs: conn.connectMs, connects: (before?.connects ?? 0) + 1, commands: before?.commands ?? 0, busyMs: before?.busyMs ?? 0 });
      this.log('ssh connected', { node: t.name, host: describeEndpoint(r), via: r.jump ? describeEndpoint(r.jump) : undefined, ms: conn.connectMs });
      return conn;
    })();
    this.connections.set(t.name, p);
    p.catch(() => {});
    return withAbort(p, signal);
  }

  /** One connection per jump host for the run, shared by every host behind it; dropped when it dies. */
  private jumpClient(e: Endpoint, auth: Auth): Promise<Client> {
    const key = describeEndpoint(e);
    let p = this.jumps.get(key);
    if (!p) {
      p = SshConnection.openJump(e, auth, (ep, k) => this.checkHostKey(ep, k), this.timeouts).then(async (client) => {
        await this.flushKnownHosts();
        this.log('ssh connected to jump host', { host: key });
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

  private authConfig(r: ResolvedHost): Promise<Auth> {
    // Keys are read once per run; the spec/config files first, else OpenSSH's default files that exist.
    this.auth ??= (async () => {
      const useAgent = this.opts.useAgent ?? true;
      const agent = useAgent ? (this.config.agentSocket ?? process.env.SSH_AUTH_SOCK) : undefined;
      const named = r.identityFiles.length > 0 || this.opts.identityFile !== undefined;
      const files = named ? r.identityFiles : defaultIdentityFiles(this.home);
      const keys: Auth['keys'] = [];
      for (const file of files) {
        let data: Buffer;
        try {
          data = await readFile(expandPath(file, { home: this.home, localUser: safeUserName() }));
        } catch (err) {
          if (named) throw new DriverError(`identity file ${file}: ${(err as Error).message}`);
          continue;
        }
        const parsed = ssh2.utils.parseKey(data);
        if (parsed instanceof Error) {
          if (/encrypted|passphrase/i.test(parsed.message)) {
            if (named && !agent) throw new DriverError(`identity file ${file} is encrypted; load it into ssh-agent (ssh-add ${file})`);
            continue;
          }
          throw new DriverError(`identity file ${file}: ${parsed.message}`);
        }
        keys.push({ file, key: data });
      }
      if (keys.length === 0 && !agent) {
        throw new DriverError('no way to authenticate: set spec.driver.ssh.identityFile, or run an ssh-agent (SSH_AUTH_SOCK), or create ~/.ssh/id_ed25519');
      }
      return { keys, ...(agent ? { agent } : {}) };
    })();
    return this.auth;
  }

  private knownHostsPath(): string {
    return expandPath(this.opts.knownHostsFile ?? '~/.ssh/known_hosts', { home: this.home, localUser: safeUserName() });
  }

  private checkHostKey(e: Endpoint, key: Buffer): string | undefined {
    // Synchronous (ssh2's verifier): known_hosts was read when the run started and TOFU appends to it.
    const names = [...new Set([knownHostsName(e.hostname, e.port), knownHostsName(e.alias, e.port)])];
    const pinned = this.opts.hostKeys?.[e.alias] ?? this.opts.hostKeys?.[e.hostname];
    const entries = parseKnownHosts(this.knownHostsText);
    const v = verifyHostKey({ names, key, entries, ...(pinned !== undefined ? { pinned } : {}) });
    const where = `${e.alias}${e.alias !== e.hostname ? ` (${e.hostname})` : ''}${e.port === 22 ? '' : ` port ${e.port}`}`;
    switch (v.status) {
      case 'trusted':
        return undefined;
      case 'revoked':
        return `host key of ${where} is REVOKED in ${this.knownHostsPath()} (${v.fingerprint}); refusing to connect`;
      case 'changed':
        return (
          `host key of ${where} has CHANGED: the host presented ${v.fingerprint}, ${v.by === 'pinned' ? 'spec.driver.ssh.hostKeys pins' : `${this.knownHostsPath()} has`} ${v.expected.join(', ')}. ` +
          `This may be an attack or a reinstalled host; refusing to connect. If the change is expected, update ${v.by === 'pinned' ? 'the pinned fingerprint' : `the entry (ssh-keygen -R ${names[0]})`}.`
        );
      case 'unknown': {
        if (this.config.trustOnFirstUse ?? this.opts.trustOnFirstUse ?? false) {
          const line = knownHostsLine(names[0]!, key) + '\n';
          this.knownHostsText += line;
          this.pendingKnownHosts.push(line);
          this.log('ssh host key trusted on first use', { host: where, fingerprint: v.fingerprint });
          return undefined;
        }
        return (
          `host ${where} is unknown: its key ${v.fingerprint} is not in ${this.knownHostsPath()} and not pinned. ` +
          `Verify it, then add it to known_hosts (ssh-keyscan), pin it in spec.driver.ssh.hostKeys, or set spec.driver.ssh.trustOnFirstUse: true`
        );
      }
    }
  }

  private knownHostsText = '';
  private readonly pendingKnownHosts: string[] = [];

  /** Reads known_hosts once before the first connection; TOFU additions are appended after each connection. */
  private loadKnownHosts(): Promise<void> {
    // The user's file, plus the system-wide one when the spec names no file (as OpenSSH reads both).
    const files = [this.knownHostsPath(), ...(this.opts.knownHostsFile === undefined ? [GLOBAL_KNOWN_HOSTS] : [])];
    this.knownHosts ??= Promise.all(files.map((f) => readFile(f, 'utf8').catch(() => ''))).then((texts) => {
      const text = texts.map((t) => (t === '' || t.endsWith('\n') ? t : `${t}\n`)).join('');
      this.knownHostsText = text + this.knownHostsText;
    });
    return this.knownHosts;
  }

  private async flushKnownHosts(): Promise<void> {
    if (this.pendingKnownHosts.length === 0) return;
    const lines = this.pendingKnownHosts.splice(0).join('');
    const file = this.knownHostsPath();
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await appendFile(file, lines, { mode: 0o600 });
  }
}

/** The caller stops waiting when its signal aborts; the shared promise carries on for others. */
function withAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(signal));
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

function abortError(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error ? r : new DOMException('The operation was aborted', 'AbortError');
}

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'root';
  }
}

function aggregate(errors: Error[]): Error {
  if (errors.length === 1) return errors[0]!;
  return new DriverError(`${errors.length} hosts failed:\n${errors.map((e) => `  ${e.message}`).join('\n')}`);
}

