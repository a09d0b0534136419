// The ssh driver: nodes are machines the user already has. "Creating" a node prepares the host
// (facts, prerequisites, host lock, ownership marker); observing reads each host's marker; removing
// deletes the marker and leaves the machine alone. This file is the Driver port over the parts:
// pool.ts (connections, jump hosts), auth.ts, known-hosts.ts, remote.ts (commands and files),
// facts.ts, host-lock.ts, marker.ts and inventory.ts (the hosts remembered locally).
import { homedir } from 'node:os';
import { dirname } from 'node:path';
import pLimit from 'p-limit';
import { DriverError } from '../../errors.js';
import { mkHome } from '../../state.js';
import type { Cri, DesiredNode, Role, SshDriverOptions } from '../../spec/types.js';
import { SshConnectError, hostsFailed } from '../errors.js';
import { localImageSource } from '../docker/images.js';
import type { Driver, ImageSource, NetworkRequest, NodeCreateRequest, NodeHandle, ObservedCluster, ObservedNetwork, ObservedNode, ReportFile, ShellRequest } from '../types.js';
import { DEFAULT_TIMEOUTS, describeEndpoint } from './connection.js';
import type { Timeouts } from './connection.js';
import { HostFactsCache, describeFacts, missingPrerequisites } from './facts.js';
import type { HostFacts, Requirements } from './facts.js';
import { HostLocks } from './host-lock.js';
import { HostInventory } from './inventory.js';
import { KnownHosts } from './known-hosts.js';
import { MARKER_MODE, MARKER_PATH, READ_MARKER_SCRIPT, parseMarker, serializeMarker } from './marker.js';
import type { NodeMarker } from './marker.js';
import { ConnectionPool } from './pool.js';
import type { Host, HostTiming, SshLog } from './pool.js';
import { shellQuote } from './quote.js';
import { ROOT_CHECKED, Remote, sshNodeHandle } from './remote.js';

export type { SshLog } from './pool.js';

/**
 * stopNode on a host, $1 the cluster's CRI: nothing without a kubelet unit (no Kubernetes there); else
 * the kubelet stops, then the containers of its pods, through the runtime's own tool (kubeadm needs no
 * crictl, so hosts may lack it): containerd's k8s.io tasks get SIGTERM, and SIGKILL 5 s later; cri-o's
 * pods are stopped with crictl; docker's pod containers with docker stop.
 */
const STOP_KUBERNETES_SCRIPT = [
  'set -e',
  'systemctl cat kubelet >/dev/null 2>&1 || exit 0',
  'systemctl stop kubelet',
  'case "$1" in',
  'containerd)',
  '  tasks=$(ctr -n k8s.io tasks ls -q)',
  '  [ -n "$tasks" ] || exit 0',
  '  for t in $tasks; do ctr -n k8s.io tasks kill "$t" >/dev/null 2>&1 || true; done',
  '  sleep 5',
  '  for t in $tasks; do ctr -n k8s.io tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true; done ;;',
  'cri-o)',
  '  pods=$(crictl --runtime-endpoint unix:///var/run/crio/crio.sock pods -q)',
  '  [ -z "$pods" ] || crictl --runtime-endpoint unix:///var/run/crio/crio.sock stopp $pods >/dev/null ;;',
  'docker)',
  '  ids=$(docker ps -q --filter label=io.kubernetes.pod.namespace)',
  '  [ -z "$ids" ] || docker stop $ids >/dev/null ;;',
  'esac',
].join('\n');

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
interface Target extends Host {
  pool: string;
  ordinal: number;
  role: Role;
  configHash?: string;
  desired: boolean;
}

export class SshDriver implements Driver {
  readonly name = 'ssh';
  private readonly opts: SshDriverOptions;
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly desired: Map<string, Target>;
  private readonly pool: ConnectionPool;
  private readonly remote: Remote;
  private readonly locks: HostLocks;
  private readonly facts: HostFactsCache;
  private readonly inventory: HostInventory;
  private preflight: Promise<void> | undefined;
  private images: ImageSource | undefined;

  constructor(private readonly config: SshDriverConfig) {
    const opts = config.options;
    this.opts = opts;
    const log = config.log ?? (() => {});
    const home = config.home ?? homedir();
    this.limit = pLimit(config.parallel ?? opts.parallel ?? 10);
    this.desired = new Map(
      config.nodes.map((n) => {
        if (!n.host) throw new DriverError(`node ${n.name} has no host (ssh pools list hosts)`);
        const t: Target = { name: n.name, pool: n.pool, ordinal: n.ordinal, role: n.role, address: n.host.address, port: n.host.port, user: n.host.user, desired: true };
        return [n.name, t];
      }),
    );
    const knownHosts = new KnownHosts({ file: opts.knownHostsFile, home, pinned: opts.hostKeys, trustOnFirstUse: config.trustOnFirstUse ?? opts.trustOnFirstUse ?? false, log });
    this.pool = new ConnectionPool({ options: opts, timeouts: timeoutsOf(config), home, sshConfig: config.sshConfig, agentSocket: config.agentSocket, knownHosts, log });
    this.remote = new Remote(this.pool, opts.sudo === true, log);
    this.locks = new HostLocks({ cluster: config.cluster, remote: this.remote, staleMs: config.lock?.staleMs, refreshMs: config.lock?.refreshMs, log });
    this.facts = new HostFactsCache(this.remote, opts.sudo === true, log);
    this.inventory = new HostInventory(config.mkHome ?? mkHome());
  }

  /** Per host: connect time and busy time (logged when the driver closes). */
  get timings(): ReadonlyMap<string, HostTiming> {
    return this.pool.timings;
  }

  // ---- reads -------------------------------------------------------------------------------

  async observe(cluster: string, signal?: AbortSignal): Promise<ObservedCluster> {
    const targets = await this.targets(cluster);
    const results = await Promise.all(targets.map((t) => this.limit(() => this.observeTarget(cluster, t, signal))));
    const failures = results.flatMap((r, i) => ('error' in r ? [{ host: targets[i]!.name, error: r.error }] : []));
    if (failures.length > 0) throw hostsFailed(failures);
    const nodes = results.flatMap((r) => ('node' in r && r.node ? [r.node] : []));
    // What each desired host that is not a node yet has and still needs, for the plan.
    const hostNotes: Record<string, string> = {};
    const pending = targets.filter((t) => t.desired && !nodes.some((n) => n.name === t.name));
    await Promise.all(
      pending.map((t) =>
        this.limit(async () => {
          try {
            const f = await this.facts.of(t, signal);
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
    await this.locks.lock(t, signal);
    const existing = await this.readMarker(t, signal);
    if (existing && existing.cluster !== node.cluster) {
      throw new DriverError(`host ${t.address} is node ${existing.node} of cluster ${existing.cluster} (${MARKER_PATH}); mk will not take it for cluster ${node.cluster}`);
    }
    if (existing && existing.node === node.name && existing.configHash === req.configHash) return this.observedFromMarker(t, existing);
    await this.inventory.remember(node.cluster, t.name, {
      address: t.address,
      ...(t.port !== undefined ? { port: t.port } : {}),
      ...(t.user !== undefined ? { user: t.user } : {}),
      pool: t.pool,
      ordinal: t.ordinal,
      role: t.role,
      configHash: req.configHash,
    });
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
    await this.remote.writeFile(t, MARKER_PATH, serializeMarker(marker), MARKER_MODE, signal);
    const facts = await this.facts.of(t, signal);
    this.config.log?.('ssh host prepared', { node: t.name, host: t.address, facts: describeFacts(facts) });
    return this.observedFromMarker(t, marker);
  }

  async startNode(cluster: string, name: string, signal?: AbortSignal): Promise<void> {
    // A reachable host with its marker is running; this only proves it answers.
    const t = await this.target(cluster, name);
    await this.pool.connection(t, signal);
  }

  /**
   * The machine is the user's: it stays up, with its runtime and sshd. What mk made of it stops: the
   * kubelet, then its pods' containers, so the node's workloads and control-plane components stop.
   * The kubelet restarted (mk start, mk apply: the kubelet is not active) brings them back.
   */
  async stopNode(cluster: string, name: string, signal?: AbortSignal): Promise<void> {
    const t = await this.target(cluster, name);
    await this.locks.lock(t, signal);
    const m = await this.readMarker(t, signal);
    if (!m || m.cluster !== cluster) throw new DriverError(`host ${t.address} is not node ${name} of cluster ${cluster} (no mk marker for it in ${MARKER_PATH})`);
    await this.remote.run(t, ['sh', '-c', STOP_KUBERNETES_SCRIPT, 'mk-stop', this.config.cri], { ...ROOT_CHECKED, signal });
  }

  async removeNode(cluster: string, name: string, signal?: AbortSignal): Promise<void> {
    const t = await this.target(cluster, name);
    await this.locks.lock(t, signal);
    const m = await this.readMarker(t, signal);
    if (m && m.cluster !== cluster) {
      throw new DriverError(`host ${t.address} is node ${m.node} of cluster ${m.cluster}; mk will not remove it from cluster ${cluster}`);
    }
    if (m) {
      await this.remote.run(t, ['rm', '-f', '--', MARKER_PATH], { ...ROOT_CHECKED, signal });
      // mk's directory goes too when nothing else is left in it; the machine stays as it was.
      await this.remote.run(t, ['rmdir', '--ignore-fail-on-non-empty', '--', dirname(MARKER_PATH)], { asRoot: true, signal });
    }
    await this.inventory.forget(cluster, name);
  }

  /** The Docker engine of the machine mk runs on: images travel from it over each host's ssh connection. */
  imageSource(): ImageSource {
    this.images ??= localImageSource(this.config.log);
    return this.images;
  }

  node(cluster: string, name: string): NodeHandle {
    return sshNodeHandle(name, this.remote, async (signal) => {
      const t = await this.target(cluster, name);
      await this.locks.lock(t, signal);
      return t;
    });
  }

  /** ssh as the login user with mk's connection settings (keys, known_hosts, jump host): what `ssh user@host` gives. */
  async shell(cluster: string, name: string, req: ShellRequest): Promise<number> {
    const t = await this.target(cluster, name);
    const conn = await this.pool.connection(t, req.signal);
    this.config.log?.('ssh session', { node: name, host: t.address, command: req.argv?.[0] ?? 'login shell', tty: req.tty !== undefined });
    if (req.argv?.length === 0) throw new DriverError('mk ssh needs a command after --, or none for a shell');
    return conn.session(req.argv ? shellQuote(req.argv) : undefined, req);
  }

  /** The host's facts (OS, kernel, binaries and versions, kubelet, sudo) and mk's marker on it. */
  async nodeReport(cluster: string, name: string, signal?: AbortSignal): Promise<ReportFile[]> {
    const t = await this.target(cluster, name);
    const [facts, marker] = await Promise.all([this.facts.of(t, signal), this.readMarker(t, signal)]);
    const resolved = this.pool.endpoint(t.name);
    const endpoint = resolved ? describeEndpoint(resolved) : t.address;
    return [
      { name: 'host.txt', content: `${endpoint}\n${describeFacts(facts)}\n\n${JSON.stringify(facts, null, 2)}\n` },
      { name: 'marker.json', content: marker ? JSON.stringify(marker, null, 2) + '\n' : `no mk marker (${MARKER_PATH}) on this host\n` },
    ];
  }

  /** Facts of every desired host (parallel); unreachable ones are left out. Other failures name each host. */
  async gatherFacts(signal?: AbortSignal): Promise<Map<string, HostFacts>> {
    const out = new Map<string, HostFacts>();
    const failures: { host: string; error: Error }[] = [];
    await Promise.all(
      [...this.desired.values()].map((t) =>
        this.limit(async () => {
          try {
            out.set(t.name, await this.facts.of(t, signal));
          } catch (err) {
            if (!(err instanceof SshConnectError && err.kind === 'unreachable')) failures.push({ host: t.name, error: err as Error });
          }
        }),
      ),
    );
    if (failures.length > 0) throw hostsFailed(failures);
    return out;
  }

  async close(): Promise<void> {
    // Locks first: releasing them needs the connections.
    await this.locks.release();
    this.pool.close();
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
    const r = this.pool.endpoint(t.name);
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
    const r = await this.remote.run(t, ['sh', '-c', READ_MARKER_SCRIPT, 'mk-marker', MARKER_PATH], { ...ROOT_CHECKED, signal });
    return parseMarker(r.stdout);
  }

  private async target(cluster: string, name: string): Promise<Target> {
    const t = this.desired.get(name) ?? (await this.targets(cluster)).find((x) => x.name === name);
    if (!t) throw new DriverError(`node ${name} of cluster ${cluster}: no host known (not in the spec, not in ${this.inventory.path(cluster)})`);
    return t;
  }

  /** Desired hosts plus hosts remembered in the inventory (removed from the spec since). */
  private async targets(cluster: string): Promise<Target[]> {
    const out = [...this.desired.values()];
    const seen = new Set(out.map((t) => `${t.address}:${t.port ?? ''}`));
    for (const [name, e] of Object.entries(await this.inventory.read(cluster))) {
      const key = `${e.address}:${e.port ?? ''}`;
      if (this.desired.has(name) || seen.has(key)) continue;
      seen.add(key);
      out.push({ name, pool: e.pool, ordinal: e.ordinal, role: e.role, address: e.address, port: e.port, user: e.user, configHash: e.configHash, desired: false });
    }
    return out;
  }
}

function timeoutsOf(config: SshDriverConfig): Timeouts {
  const spec = config.options.timeouts ?? {};
  const sec = (v: number | undefined, fallback: number): number => (v !== undefined ? v * 1000 : fallback);
  return {
    connectMs: sec(spec.connect, DEFAULT_TIMEOUTS.connectMs),
    commandMs: sec(spec.command, DEFAULT_TIMEOUTS.commandMs),
    idleMs: sec(spec.idle, DEFAULT_TIMEOUTS.idleMs),
    keepaliveIntervalMs: sec(spec.keepaliveInterval, DEFAULT_TIMEOUTS.keepaliveIntervalMs),
    keepaliveCountMax: spec.keepaliveCountMax ?? DEFAULT_TIMEOUTS.keepaliveCountMax,
    ...config.timeouts,
  };
}
