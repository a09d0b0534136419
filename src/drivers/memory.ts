// An in-memory Driver: the planner, machine and runner are tested and benchmarked against it at scale.
// Nodes, networks and volumes are plain maps; every call is counted; faults and delays can be injected.
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { CommandError, DriverError } from '../errors.js';
import { LB_CONFIG, lbName } from './load-balancer.js';
import type {
  Driver,
  ExecOptions,
  ExecResult,
  HostFacts,
  ImageSource,
  LoadBalancerRequest,
  NetworkRequest,
  NodeCreateRequest,
  NodeHandle,
  NodeState,
  ObservedCluster,
  ObservedLoadBalancer,
  ObservedNetwork,
  ObservedNode,
  ReportFile,
  ShellRequest,
} from './types.js';

export type MemoryMethod =
  | 'observe'
  | 'listClusters'
  | 'ensureNetwork'
  | 'createNode'
  | 'startNode'
  | 'stopNode'
  | 'removeNode'
  | 'removeVolume'
  | 'removeNetwork'
  | 'createLoadBalancer'
  | 'stopLoadBalancer'
  | 'removeLoadBalancer'
  | 'hostFacts'
  | 'exec'
  | 'writeFile';

const MUTATING: readonly MemoryMethod[] = ['ensureNetwork', 'createNode', 'startNode', 'stopNode', 'removeNode', 'removeVolume', 'removeNetwork', 'createLoadBalancer', 'stopLoadBalancer', 'removeLoadBalancer'];

export interface MemoryDriverOptions {
  /** Milliseconds each call waits before acting (honours the abort signal); a number or per method. */
  delayMs?: number | Partial<Record<MemoryMethod, number>>;
  /** Make a call fail: for node calls the node name, for volumes the volume, for networks the cluster; or a predicate. */
  failOn?: Partial<Record<MemoryMethod, string | ((subject: string) => boolean)>>;
  /** Result of NodeHandle.exec (after a stdin stream was read to its end: `stdin` is how many bytes it had); default exit 0 with empty output. */
  onExec?: (node: string, argv: readonly string[], stdin?: number) => ExecResult;
  /** Files of Driver.nodeReport besides node.json (what the node looks like to the driver). */
  onNodeReport?: (node: string) => ReportFile[];
  /** What hostFacts() answers; default: nothing known. */
  hostFacts?: HostFacts;
  /** What imageSource() answers; default: an engine that has no image and reaches no registry. */
  imageSource?: ImageSource;
}

const NO_IMAGES: ImageSource = {
  description: 'no Docker engine (memory driver)',
  inspect: () => Promise.resolve(undefined),
  pullable: () => Promise.resolve('the memory driver has no registry'),
  pull: (ref) => Promise.reject(new DriverError(`memory driver: cannot pull ${ref}`)),
  save: (refs) => Promise.reject(new DriverError(`memory driver: no image ${refs.join(', ')}`)),
};

interface StoredNode extends ObservedNode {
  cluster: string;
  volume: string;
}

export interface ExecRecord {
  cluster: string;
  node: string;
  argv: string[];
}

/** A copy without the driver's private fields (cheap: runs once per node per observe). */
function observed(n: StoredNode): ObservedNode {
  const o: ObservedNode = { name: n.name, pool: n.pool, ordinal: n.ordinal, role: n.role, id: n.id, state: n.state, image: n.image, configHash: n.configHash };
  if (n.address !== undefined) o.address = n.address;
  if (n.apiServerPort !== undefined) o.apiServerPort = n.apiServerPort;
  return o;
}

export class MemoryDriver implements Driver {
  readonly name = 'memory';
  readonly nodes = new Map<string, StoredNode>();
  /** cluster -> network */
  readonly networks = new Map<string, ObservedNetwork>();
  /** volume name -> cluster */
  readonly volumes = new Map<string, string>();
  /** cluster -> its load balancer, and the configuration it was last given */
  readonly loadBalancers = new Map<string, ObservedLoadBalancer & { config: string }>();
  readonly calls: Record<MemoryMethod, number> = {
    observe: 0,
    listClusters: 0,
    ensureNetwork: 0,
    createNode: 0,
    startNode: 0,
    stopNode: 0,
    removeNode: 0,
    removeVolume: 0,
    removeNetwork: 0,
    createLoadBalancer: 0,
    stopLoadBalancer: 0,
    removeLoadBalancer: 0,
    hostFacts: 0,
    exec: 0,
    writeFile: 0,
  };
  readonly execs: ExecRecord[] = [];
  /** Calls in progress right now, and the most seen at once (to check concurrency limits). */
  inFlight = 0;
  maxInFlight = 0;
  private seq = 0;

  constructor(private readonly opts: MemoryDriverOptions = {}) {}

  /** Mutating calls made so far (a second apply of an unchanged spec must make none). */
  get mutatingCalls(): number {
    return MUTATING.reduce((sum, m) => sum + this.calls[m], 0);
  }

  resetCounters(): void {
    for (const k of Object.keys(this.calls) as MemoryMethod[]) this.calls[k] = 0;
    this.execs.length = 0;
    this.maxInFlight = 0;
  }

  /** Test helper: change a node's state behind mk's back (drift). */
  setState(name: string, state: NodeState): void {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    n.state = state;
  }

  /** Test helper: a volume no node uses, as a killed run leaves behind. */
  addOrphanVolume(cluster: string, volume: string): void {
    this.volumes.set(volume, cluster);
  }

  private async call<T>(method: MemoryMethod, subject: string, signal: AbortSignal | undefined, act: () => T): Promise<T> {
    this.calls[method]++;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const d = this.opts.delayMs;
      const ms = typeof d === 'number' ? d : (d?.[method] ?? 0);
      // An aborted call rejects, before or during its delay (no timer without one: tests run thousands of calls).
      signal?.throwIfAborted();
      if (ms > 0) await sleep(ms, undefined, { signal });
      const fail = this.opts.failOn?.[method];
      if (fail !== undefined && (typeof fail === 'string' ? fail === subject : fail(subject))) {
        throw new DriverError(`memory driver: injected failure in ${method}(${subject})`);
      }
      return act();
    } finally {
      this.inFlight--;
    }
  }

  /** Node volumes are named after their node: <node>-var. */
  private static nodeOfVolume(volume: string): string | undefined {
    return volume.endsWith('-var') ? volume.slice(0, -'-var'.length) : undefined;
  }

  private volumeInUse(volume: string): boolean {
    const node = MemoryDriver.nodeOfVolume(volume);
    return node !== undefined && this.nodes.get(node)?.volume === volume;
  }

  hostFacts(signal?: AbortSignal): Promise<HostFacts> {
    return this.call('hostFacts', 'host', signal, () => structuredClone(this.opts.hostFacts ?? {}));
  }

  observe(cluster: string, signal?: AbortSignal): Promise<ObservedCluster> {
    return this.call('observe', cluster, signal, () => {
      const network = this.networks.get(cluster);
      const nodes: ObservedNode[] = [];
      for (const n of this.nodes.values()) if (n.cluster === cluster) nodes.push(observed(n));
      const orphanVolumes: string[] = [];
      for (const [v, c] of this.volumes) if (c === cluster && !this.volumeInUse(v)) orphanVolumes.push(v);
      const owners = orphanVolumes.flatMap((v) => {
        const node = MemoryDriver.nodeOfVolume(v);
        return node ? [[v, node]] : [];
      });
      const lb = this.loadBalancers.get(cluster);
      const loadBalancer = lb ? (({ config: _config, ...o }) => o)(lb) : undefined;
      return { name: cluster, ...(network ? { network: { ...network } } : {}), nodes, ...(loadBalancer ? { loadBalancer } : {}), orphanVolumes: orphanVolumes.sort(), ...(owners.length ? { orphanVolumeNodes: Object.fromEntries(owners) } : {}) };
    });
  }

  listClusters(signal?: AbortSignal): Promise<string[]> {
    return this.call('listClusters', '', signal, () =>
      [...new Set([...[...this.nodes.values()].map((n) => n.cluster), ...this.networks.keys(), ...this.volumes.values(), ...this.loadBalancers.keys()])].sort(),
    );
  }

  ensureNetwork(req: NetworkRequest, signal?: AbortSignal): Promise<ObservedNetwork> {
    return this.call('ensureNetwork', req.cluster, signal, () => {
      let net = this.networks.get(req.cluster);
      if (!net) {
        net = { id: `net-${++this.seq}`, name: req.name ?? `mk-${req.cluster}`, subnet: req.subnet ?? `10.${100 + (this.networks.size % 100)}.0.0/24` };
        this.networks.set(req.cluster, net);
      }
      return { ...net };
    });
  }

  createNode(req: NodeCreateRequest, signal?: AbortSignal): Promise<ObservedNode> {
    const { node } = req;
    return this.call('createNode', node.name, signal, () => {
      const existing = this.nodes.get(node.name);
      if (existing) {
        if (existing.cluster !== node.cluster) throw new DriverError(`node ${node.name} belongs to cluster ${existing.cluster}`);
        return { ...existing };
      }
      if (!this.networks.has(node.cluster)) throw new DriverError(`cluster ${node.cluster} has no network`);
      const volume = `${node.name}-var`;
      const stored: StoredNode = {
        cluster: node.cluster,
        volume,
        name: node.name,
        pool: node.pool,
        ordinal: node.ordinal,
        role: node.role,
        id: `c-${++this.seq}`,
        state: 'running',
        address: `10.0.0.${this.seq % 250}`,
        ...(req.apiServerPort !== undefined ? { apiServerPort: req.apiServerPort || 30000 + this.seq } : {}),
        image: req.image,
        configHash: req.configHash,
      };
      this.nodes.set(node.name, stored);
      this.volumes.set(volume, node.cluster);
      return { ...stored };
    });
  }

  startNode(cluster: string, name: string, signal?: AbortSignal): Promise<void> {
    return this.call('startNode', name, signal, () => {
      const n = this.nodes.get(name);
      if (!n || n.cluster !== cluster) throw new DriverError(`node ${name} not found`);
      n.state = 'running';
    });
  }

  stopNode(cluster: string, name: string, signal?: AbortSignal): Promise<void> {
    return this.call('stopNode', name, signal, () => {
      const n = this.nodes.get(name);
      if (!n || n.cluster !== cluster) throw new DriverError(`node ${name} not found`);
      n.state = 'stopped';
    });
  }

  removeNode(cluster: string, name: string, signal?: AbortSignal): Promise<void> {
    return this.call('removeNode', name, signal, () => {
      const n = this.nodes.get(name);
      if (!n || n.cluster !== cluster) return;
      this.nodes.delete(name);
      this.volumes.delete(n.volume);
    });
  }

  removeVolume(cluster: string, volume: string, signal?: AbortSignal): Promise<void> {
    return this.call('removeVolume', volume, signal, () => {
      if (this.volumes.get(volume) !== cluster) return;
      if (this.volumeInUse(volume)) throw new DriverError(`volume ${volume} is in use`);
      this.volumes.delete(volume);
    });
  }

  removeNetwork(cluster: string, signal?: AbortSignal): Promise<void> {
    return this.call('removeNetwork', cluster, signal, () => {
      if ([...this.nodes.values()].some((n) => n.cluster === cluster) || this.loadBalancers.has(cluster)) throw new DriverError(`network of ${cluster} still has nodes`);
      this.networks.delete(cluster);
    });
  }

  createLoadBalancer(req: LoadBalancerRequest, signal?: AbortSignal): Promise<ObservedLoadBalancer> {
    return this.call('createLoadBalancer', req.cluster, signal, () => {
      let lb = this.loadBalancers.get(req.cluster);
      if (!lb) {
        if (!this.networks.has(req.cluster)) throw new DriverError(`cluster ${req.cluster} has no network`);
        const seq = ++this.seq;
        lb = { id: `lb-${seq}`, name: lbName(req.cluster), state: 'running', address: `10.0.0.${seq % 250}`, apiServerPort: req.apiServerPort || 30000 + seq, image: req.image, config: req.config };
        this.loadBalancers.set(req.cluster, lb);
      }
      lb.state = 'running';
      return (({ config: _config, ...o }) => o)(lb);
    });
  }

  stopLoadBalancer(cluster: string, signal?: AbortSignal): Promise<void> {
    return this.call('stopLoadBalancer', cluster, signal, () => {
      const lb = this.loadBalancers.get(cluster);
      if (lb) lb.state = 'stopped';
    });
  }

  removeLoadBalancer(cluster: string, signal?: AbortSignal): Promise<void> {
    return this.call('removeLoadBalancer', cluster, signal, () => void this.loadBalancers.delete(cluster));
  }

  /** The load balancer's handle: exec answers as for nodes (onExec, with its container name); writeFile keeps the configuration. */
  loadBalancer(cluster: string): NodeHandle {
    const name = lbName(cluster);
    const lb = () => {
      const found = this.loadBalancers.get(cluster);
      if (!found || found.state !== 'running') throw new DriverError(`the load balancer of ${cluster} is not running`);
      return found;
    };
    const exec = (argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> =>
      this.call('exec', name, opts?.signal, () => {
        const found = lb();
        this.execs.push({ cluster, node: name, argv: [...argv] });
        if (argv[0] === 'cat' && argv[1] === LB_CONFIG) return { stdout: found.config, stderr: '', exitCode: 0 };
        return this.opts.onExec?.(name, argv) ?? { stdout: '', stderr: '', exitCode: 0 };
      });
    return this.handle(cluster, name, exec, (content) => (lb().config = String(content)));
  }

  /** A NodeHandle around `exec`: run throws on a non-zero exit; writeFile is recorded (and given to `onWrite`). */
  private handle(cluster: string, name: string, exec: NodeHandle['exec'], onWrite?: (content: string | Buffer) => void): NodeHandle {
    return {
      name,
      exec,
      run: async (argv, opts) => {
        const r = await exec(argv, opts);
        if (r.exitCode !== 0) throw new CommandError(argv, r.exitCode, r.stdout, r.stderr, name);
        return r;
      },
      writeFile: (path, content, _mode, opts) =>
        this.call('writeFile', name, opts?.signal, () => {
          onWrite?.(content);
          this.execs.push({ cluster, node: name, argv: ['write', path] });
        }),
    };
  }

  imageSource(): ImageSource {
    return this.opts.imageSource ?? NO_IMAGES;
  }

  nodeReport(cluster: string, name: string): Promise<ReportFile[]> {
    const n = this.nodes.get(name);
    if (!n || n.cluster !== cluster) return Promise.reject(new DriverError(`node ${name} not found`));
    return Promise.resolve([{ name: 'node.json', content: JSON.stringify(observed(n), null, 2) + '\n' }, ...(this.opts.onNodeReport?.(name) ?? [])]);
  }

  /** Runs req.argv as exec does (onExec answers) and writes its output to the request's streams. */
  async shell(cluster: string, name: string, req: ShellRequest): Promise<number> {
    const r = await this.node(cluster, name).exec(req.argv ?? ['sh', '-l'], req.signal ? { signal: req.signal } : {});
    req.stdout.write(r.stdout);
    req.stderr.write(r.stderr);
    return r.exitCode;
  }

  node(cluster: string, name: string): NodeHandle {
    const exec = async (argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> => {
      const running = () => {
        const n = this.nodes.get(name);
        if (!n || n.cluster !== cluster || n.state !== 'running') throw new DriverError(`node ${name} is not running`);
      };
      // A stream on stdin is read to its end first, as a command would.
      let stdin: number | undefined;
      if (opts?.stdin instanceof Readable) {
        running();
        stdin = 0;
        for await (const chunk of opts.stdin) stdin += (chunk as Buffer).length;
      }
      return this.call('exec', name, opts?.signal, () => {
        running();
        this.execs.push({ cluster, node: name, argv: [...argv] });
        return this.opts.onExec?.(name, argv, stdin) ?? { stdout: '', stderr: '', exitCode: 0 };
      });
    };
    return this.handle(cluster, name, exec);
  }
}
