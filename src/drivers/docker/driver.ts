// The Docker driver: nodes are systemd containers on one labelled bridge network per cluster.
// Everything is found by mk's labels (src/drivers/labels.ts), never by name patterns.
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, release } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type Dockerode from 'dockerode';
import pLimit, { type LimitFunction } from 'p-limit';
import type { Driver, HostFacts, ImageSource, LoadBalancerRequest, NetworkRequest, NodeCreateRequest, ObservedCluster, ObservedLoadBalancer, ObservedNetwork, ObservedNode, ReportFile, ShellRequest } from '../types.js';
import type { DockerDriverOptions } from '../../spec/types.js';
import { DEFAULT_PROC_ROOT, freeBytes, missingCapabilities, readInotify, routedSubnets } from '../host-facts.js';
import { LABELS, ownedLabels } from '../labels.js';
import { DriverError } from '../../errors.js';
import { NodeImageError } from '../errors.js';
import { lbContainerOptions, nodeContainerOptions, varVolumeName, varVolumeOptions } from './container-spec.js';
import { singleFileTar } from './archive.js';
import { LB_CONFIG, lbName } from '../load-balancer.js';
import { conflictOf, dockerMessage, isNotFound, statusCode, unreachableEngine, wrapDockerError } from './docker-errors.js';
import { DOCKER_ENGINE, type EngineProfile } from './engine.js';
import { readFileIfExists, resolveDockerEndpoint, resolvePodmanEndpoint } from './endpoint.js';
import { throwIfAborted } from './exec.js';
import { loadDockerode } from './dockerode.js';
import { DockerImageSource } from './images.js';
import { defaultGateway, firstFreeAddress, pickFreeSubnet } from './ipam.js';
import { demuxLog } from './logs.js';
import { shellInContainer } from './shell.js';
import { DockerNodeHandle } from './node-handle.js';
import type { DockerLog } from './node-handle.js';
import { observedCluster, observedLoadBalancer, observedNetwork, observedNode } from './observed.js';

export type { DockerLog } from './node-handle.js';

export interface DockerEngine {
  version: string;
  apiVersion: string;
  /** unix:///var/run/docker.sock, tcp://..., ssh://... */
  host?: string;
}

/** 'auto': a local daemon (unix socket) gets it when the path exists here; a remote one gets `remoteDefault`. */
export type HostPathChoice = boolean | 'auto';

export interface DockerDriverConfig {
  /** A ready client (tests); default: one built from the resolved endpoint (endpoint.ts). */
  docker?: Dockerode;
  options: Omit<DockerDriverOptions, 'image'> & { image?: string };
  /** mk version, written to the created-by label. */
  version?: string;
  /** Debug log: one line per Docker call with the container id. Never file contents or env values. */
  log?: DockerLog;
  /** Bind-mount the daemon host's /lib/modules read-only (default 'auto'). */
  libModules?: HostPathChoice;
  /** Pass /dev/kmsg into unprivileged nodes (default 'auto'). */
  kmsg?: HostPathChoice;
  /** Where this machine's /proc is read for host facts (default /proc; tests point it at fake files). */
  procRoot?: string;
  /** Which engine serves the API (default Docker; podman: its API service). */
  engine?: EngineProfile;
}

/** How often createNode retries when a picked static address or subnet was taken meanwhile. */
const ADDRESS_ATTEMPTS = 4;
/** Lines of a node container's own log in a bug report (its systemd's console). */
const REPORT_LOG_LINES = 5000;
/** A name held by a container the engine is removing: retry for up to 20 x 250 ms. */
const NAME_CONFLICT_RETRIES = 20;
const NAME_CONFLICT_WAIT_MS = 250;
/** How long a node's systemd gets to shut down (kubelet, runtime, pods) before the engine kills it. */
const NODE_STOP_TIMEOUT_S = 30;

type Filters = Record<string, string[]>;

export class DockerDriver implements Driver {
  readonly name: EngineProfile['driver'];
  private readonly engine: EngineProfile;
  private readonly docker: Dockerode;
  private readonly options: DockerDriverConfig['options'];
  private readonly createdBy: string;
  private readonly log: DockerLog;
  private readonly mountLibModules: boolean;
  private readonly kmsgDevice: boolean;
  /** The engine's unix socket when it is on this machine. */
  private readonly socketPath: string | undefined;
  /** The engine's address as resolved (unix://, tcp://, ssh://); undefined for a client given ready-made. */
  private readonly host: string | undefined;
  private readonly procRoot: string;
  /** Where the engine is, for messages. */
  private readonly endpoint: string;
  private images: ImageSource | undefined;
  /** Serialises address picking + container start per cluster within this process. */
  private readonly clusterLocks = new Map<string, LimitFunction>();

  constructor(config: DockerDriverConfig) {
    this.options = config.options;
    this.createdBy = config.version ?? 'dev';
    this.log = config.log ?? (() => {});
    this.engine = config.engine ?? DOCKER_ENGINE;
    this.name = this.engine.driver;
    if (config.docker) {
      this.docker = config.docker;
      this.endpoint = this.engine.title;
    } else {
      const endpoint =
        this.engine.driver === 'podman'
          ? resolvePodmanEndpoint({ options: config.options, env: process.env, uid: process.getuid?.() ?? 0 })
          : resolveDockerEndpoint({ options: config.options, env: process.env, homeDir: homedir(), readFile: readFileIfExists });
      this.log(`${this.engine.driver} endpoint`, { host: endpoint.host, source: endpoint.source, ...(endpoint.context ? { context: endpoint.context } : {}) });
      this.docker = new (loadDockerode())(endpoint.dockerOptions);
      this.host = endpoint.host;
      this.endpoint = `${this.engine.title} at ${endpoint.host}`;
    }
    const socketPath = (this.docker.modem as { socketPath?: unknown }).socketPath;
    this.socketPath = typeof socketPath === 'string' ? socketPath : undefined;
    this.procRoot = config.procRoot ?? DEFAULT_PROC_ROOT;
    // /lib/modules: on by default (cannot be checked on a remote host); /dev/kmsg: nice-to-have only.
    this.mountLibModules = choose(config.libModules ?? 'auto', this.socketPath !== undefined, '/lib/modules', true);
    this.kmsgDevice = choose(config.kmsg ?? 'auto', this.socketPath !== undefined, '/dev/kmsg', false);
  }

  networkName(cluster: string): string {
    return this.options.network ?? `mk-${cluster}`;
  }

  // ---- reads -------------------------------------------------------------------------------

  async observe(cluster: string, signal?: AbortSignal): Promise<ObservedCluster> {
    const filters = clusterFilter(cluster);
    const [containers, networks, volumes] = await Promise.all([
      this.listContainers(filters, signal),
      this.listNetworks(filters, signal),
      this.listVolumes(filters, signal),
    ]);
    return observedCluster(cluster, { containers, networks, volumes });
  }

  async listClusters(signal?: AbortSignal): Promise<string[]> {
    const filters = { label: [LABELS.cluster] };
    const [containers, networks, volumes] = await Promise.all([
      this.listContainers(filters, signal),
      this.listNetworks(filters, signal),
      this.listVolumes(filters, signal),
    ]);
    const names = new Set<string>();
    for (const labels of [...containers.map((c) => c.Labels), ...networks.map((n) => n.Labels), ...volumes.map((v) => v.Labels)]) {
      const name = labels?.[LABELS.cluster];
      if (name) names.add(name);
    }
    return [...names].sort();
  }

  /** The engine's version (`docker version`: Server), and where it was found. */
  async engineVersion(signal?: AbortSignal): Promise<DockerEngine> {
    this.log('docker version');
    // dockerode passes an abort signal to /version; its types do not declare the options.
    const readVersion = this.docker.version.bind(this.docker) as unknown as (opts: { abortSignal?: AbortSignal }) => Promise<{ Version?: string; ApiVersion?: string }>;
    try {
      const v = await readVersion(withSignal({}, signal));
      return { version: v.Version ?? 'unknown', apiVersion: v.ApiVersion ?? 'unknown', ...(this.host ? { host: this.host } : {}) };
    } catch (err) {
      throw wrapDockerError('docker version', err);
    }
  }

  /** The engine the nodes run on: images go from it into them. */
  imageSource(): ImageSource {
    this.images ??= new DockerImageSource(this.docker, this.endpoint, this.log);
    return this.images;
  }

  /**
   * The engine's cgroup facts; and when it runs on this machine's kernel (a local socket, the same
   * kernel release: not a Docker Desktop VM), this machine's inotify limits and what the nodes' user
   * holds of them (root, or this user for a rootless engine), free space in the engine's data root,
   * and the capabilities missing from the engine's bounding set (its pid file sits next to its socket).
   */
  async hostFacts(signal?: AbortSignal): Promise<HostFacts> {
    throwIfAborted(signal, 'docker info');
    this.log('docker info');
    type Info = { DockerRootDir?: string; MemoryLimit?: boolean; KernelVersion?: string; SecurityOptions?: string[] };
    // dockerode passes an abort signal to /info; its types do not declare the options.
    const readInfo = this.docker.info.bind(this.docker) as unknown as (opts: { abortSignal?: AbortSignal }) => Promise<Info>;
    let info: Info;
    try {
      info = await readInfo(withSignal({}, signal));
    } catch (err) {
      throw wrapDockerError('docker info', err);
    }
    const facts: HostFacts = typeof info.MemoryLimit === 'boolean' ? { memoryCgroup: info.MemoryLimit } : {};
    if (!this.socketPath || info.KernelVersion !== release()) return facts;
    const rootless = (info.SecurityOptions ?? []).some((o) => o.includes('name=rootless'));
    const [inotify, free, lacks] = await Promise.all([
      readInotify(this.procRoot, rootless ? (process.getuid?.() ?? 0) : 0),
      info.DockerRootDir ? freeBytes(info.DockerRootDir) : undefined,
      missingCapabilities(this.procRoot, join(dirname(this.socketPath), 'docker.pid')),
    ]);
    if (inotify) facts.inotify = inotify;
    if (free !== undefined && info.DockerRootDir) facts.disk = { path: info.DockerRootDir, freeBytes: free };
    if (lacks) facts.engineLacksCapabilities = lacks;
    return facts;
  }

  // ---- network -----------------------------------------------------------------------------

  async ensureNetwork(req: NetworkRequest, signal?: AbortSignal): Promise<ObservedNetwork> {
    const existing = await this.findNetwork(req.cluster, signal);
    if (existing) return observedNetwork(existing);
    const name = req.name ?? this.networkName(req.cluster);
    const explicit = req.subnet ?? this.options.subnet;
    const tried: string[] = [];
    for (let attempt = 1; ; attempt++) {
      const subnet = explicit ?? pickFreeSubnet([...(await this.usedSubnets(signal)), ...tried], this.engine.subnetPool);
      throwIfAborted(signal, `create network ${name}`);
      this.log('docker createNetwork', { network: name, subnet });
      try {
        await this.docker.createNetwork({
          Name: name,
          CheckDuplicate: true,
          Driver: 'bridge',
          Labels: ownedLabels(req.cluster, 'network', { [LABELS.createdBy]: this.createdBy }),
          IPAM: { Driver: 'default', Config: [{ Subnet: subnet, Gateway: defaultGateway(subnet) }] },
          ...(signal ? { abortSignal: signal } : {}),
        });
      } catch (err) {
        // A network with that name exists (another run, or not ours: checked below).
        const conflict = conflictOf(err);
        if (conflict === 'name') break;
        // Another network took the subnet between our scan and the create: pick the next one.
        if (explicit === undefined && attempt < ADDRESS_ATTEMPTS && conflict === 'subnet') {
          tried.push(subnet);
          continue;
        }
        throw wrapDockerError(`create network ${name} (${subnet})`, err);
      }
      break;
    }
    const created = await this.findNetwork(req.cluster, signal);
    if (!created) {
      throw new DriverError(`docker network "${name}" exists but is not labelled for cluster "${req.cluster}"; mk will not use or remove it (set spec.driver.docker.network to another name)`);
    }
    return observedNetwork(created);
  }

  async removeNetwork(cluster: string, signal?: AbortSignal): Promise<void> {
    const networks = await this.listNetworks({ label: [`${LABELS.cluster}=${cluster}`, `${LABELS.component}=network`] }, signal);
    for (const net of networks) {
      this.log('docker removeNetwork', { network: net.Name, id: net.Id });
      await tolerate404(() => this.docker.getNetwork(net.Id).remove(withSignal({}, signal)), `remove network ${net.Name}`);
    }
  }

  // ---- nodes -------------------------------------------------------------------------------

  async createNode(req: NodeCreateRequest, signal?: AbortSignal): Promise<ObservedNode> {
    const { node } = req;
    const existing = await this.findNodeContainer(node.cluster, node.name, signal);
    if (existing && existing.State !== 'dead' && existing.State !== 'removing') {
      if (existing.State !== 'created') {
        await this.startContainer(existing, signal);
        return this.observeNode(node.cluster, node.name, signal);
      }
      // Left in "created" by a killed run: start it; if that fails (address taken meanwhile), recreate.
      try {
        await this.startContainer(existing, signal);
        return this.observeNode(node.cluster, node.name, signal);
      } catch (err) {
        this.log('docker start of created container failed; recreating', { container: existing.Id, node: node.name, error: String(err) });
        await this.removeContainer(existing.Id, signal);
      }
    } else if (existing) {
      await this.removeContainer(existing.Id, signal);
    }

    await this.ensureImage(req.image, signal);
    const network = await this.ensureNetwork({ cluster: node.cluster }, signal);
    await this.ensureVolume(req, signal);
    await this.withClusterLock(node.cluster, () => this.createAndStart(req, network, signal));
    return this.observeNode(node.cluster, node.name, signal);
  }

  async startNode(cluster: string, name: string, signal?: AbortSignal): Promise<void> {
    const c = await this.nodeContainer(cluster, name, signal);
    await this.startContainer(c, signal);
  }

  /** docker stop: systemd gets SIGRTMIN+3 and shuts the node down; container, volume, address and published port stay. */
  async stopNode(cluster: string, name: string, signal?: AbortSignal): Promise<void> {
    const c = await this.nodeContainer(cluster, name, signal);
    if (c.State !== 'running' && c.State !== 'restarting' && c.State !== 'paused') return;
    this.log('docker stop', { container: c.Id, node: name, timeoutS: NODE_STOP_TIMEOUT_S });
    try {
      await this.docker.getContainer(c.Id).stop(withSignal({ t: NODE_STOP_TIMEOUT_S }, signal));
    } catch (err) {
      if (statusCode(err) === 304) return; // already stopped
      throw wrapDockerError(`stop node ${name}`, err);
    }
  }

  async removeNode(cluster: string, name: string, signal?: AbortSignal): Promise<void> {
    const containers = await this.listContainers(nodeFilter(cluster, name), signal);
    for (const c of containers) await this.removeContainer(c.Id, signal);
    const volumes = await this.listVolumes({ label: [`${LABELS.cluster}=${cluster}`, `${LABELS.component}=volume`, `${LABELS.node}=${name}`] }, signal);
    for (const v of volumes) await this.removeVolume(cluster, v.Name, signal);
  }

  async removeVolume(cluster: string, volume: string, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal, `remove volume ${volume}`);
    let info: Dockerode.VolumeInspectInfo;
    try {
      info = await this.docker.getVolume(volume).inspect(withSignal({}, signal));
    } catch (err) {
      if (isNotFound(err)) return;
      throw wrapDockerError(`inspect volume ${volume}`, err);
    }
    if (info.Labels?.[LABELS.cluster] !== cluster) {
      throw new DriverError(`volume ${volume} is not labelled for cluster "${cluster}"; mk will not remove it`);
    }
    this.log('docker removeVolume', { volume });
    await tolerate404(() => this.docker.getVolume(volume).remove(withSignal({}, signal)), `remove volume ${volume}`);
  }

  node(cluster: string, name: string): DockerNodeHandle {
    // Looked up by label on every call (one cheap list): a replaced node gets a new container id.
    const resolve = async (signal?: AbortSignal): Promise<string> => (await this.nodeContainer(cluster, name, signal)).Id;
    return new DockerNodeHandle(this.docker, name, resolve, this.log);
  }

  /** docker exec -i (-t at a terminal) as root, the user's streams passed through. */
  async shell(cluster: string, name: string, req: ShellRequest): Promise<number> {
    const c = await this.nodeContainer(cluster, name, req.signal);
    if (c.State !== 'running') throw new DriverError(`node ${name} of cluster ${cluster} is not running (${c.Status || c.State})`);
    this.log('docker exec (session)', { container: c.Id, node: name, command: req.argv?.[0] ?? 'login shell', tty: req.tty !== undefined });
    try {
      return await shellInContainer(this.docker, c.Id, req);
    } catch (err) {
      throw wrapDockerError(`exec on node ${name}`, err);
    }
  }

  /** The node container's inspect and the last lines of its log (systemd's console), also of a stopped container. */
  async nodeReport(cluster: string, name: string, signal?: AbortSignal): Promise<ReportFile[]> {
    const c = await this.nodeContainer(cluster, name, signal);
    const container = this.docker.getContainer(c.Id);
    this.log('docker inspect and logs', { container: c.Id, node: name });
    try {
      const [inspect, log] = await Promise.all([
        container.inspect(withSignal({}, signal)),
        container.logs(withSignal({ stdout: true, stderr: true, timestamps: true, tail: REPORT_LOG_LINES, follow: false as const }, signal)),
      ]);
      return [
        { name: 'inspect.json', content: JSON.stringify(inspect, null, 2) + '\n' },
        { name: 'container.log', content: demuxLog(log) || "(empty: the node's init wrote nothing to its console; systemd logs to the journal)\n" },
      ];
    } catch (err) {
      throw wrapDockerError(`read the log and inspect of node ${name}`, err);
    }
  }

  // ---- load balancer -----------------------------------------------------------------------

  async createLoadBalancer(req: LoadBalancerRequest, signal?: AbortSignal): Promise<ObservedLoadBalancer> {
    const existing = await this.findLbContainer(req.cluster, signal);
    if (existing && (existing.State === 'running' || existing.State === 'exited' || existing.State === 'paused' || existing.State === 'restarting')) {
      await this.startContainer(existing, signal);
      return this.observeLb(req.cluster, signal);
    }
    // Never started (a killed run), or dead: made again.
    if (existing) await this.removeContainer(existing.Id, signal);
    await this.ensureImage(req.image, signal);
    const network = await this.ensureNetwork({ cluster: req.cluster }, signal);
    if (!network.subnet) throw new DriverError(`network ${network.name} has no IPv4 subnet; cannot give the load balancer a static address`);
    const name = lbName(req.cluster);
    const pickPort = req.apiServerPort === 0 && this.socketPath !== undefined;
    await this.withClusterLock(req.cluster, async () => {
      const tried: string[] = [];
      for (let attempt = 1; ; attempt++) {
        const address = firstFreeAddress(network.subnet!, network.gateway, [...(await this.usedAddresses(network, signal)), ...tried]);
        const port = pickPort ? await freeLocalPort() : req.apiServerPort;
        throwIfAborted(signal, `create load balancer ${name}`);
        let container: Dockerode.Container;
        try {
          container = await this.docker.createContainer(withSignal(lbContainerOptions({ ...req, apiServerPort: port }, network.name, address, this.createdBy), signal));
        } catch (err) {
          if (conflictOf(err) === 'name') throw new DriverError(`a container named "${name}" exists but is not labelled as the load balancer of cluster ${req.cluster}; mk will not touch it`, { cause: err });
          throw wrapDockerError(`create load balancer ${name}`, err);
        }
        this.log('docker createContainer (load balancer)', { container: container.id, image: req.image, address, apiServerPort: port });
        try {
          await container.putArchive(await singleFileTar(LB_CONFIG, req.config, 0o644), withSignal({ path: '/' }, signal));
          await container.start(withSignal({}, signal));
          return;
        } catch (err) {
          const taken = takenAtStart(err);
          await this.removeContainer(container.id, signal);
          if ((taken === 'address' || (taken === 'port' && pickPort)) && attempt < ADDRESS_ATTEMPTS) {
            if (taken === 'address') tried.push(address);
            continue;
          }
          throw wrapDockerError(`start load balancer ${name}`, err);
        }
      }
    });
    return this.observeLb(req.cluster, signal);
  }

  async stopLoadBalancer(cluster: string, signal?: AbortSignal): Promise<void> {
    const c = await this.findLbContainer(cluster, signal);
    if (!c || (c.State !== 'running' && c.State !== 'restarting' && c.State !== 'paused')) return;
    this.log('docker stop (load balancer)', { container: c.Id });
    try {
      await this.docker.getContainer(c.Id).stop(withSignal({ t: 5 }, signal));
    } catch (err) {
      if (statusCode(err) === 304 || isNotFound(err)) return;
      throw wrapDockerError(`stop load balancer ${lbName(cluster)}`, err);
    }
  }

  async removeLoadBalancer(cluster: string, signal?: AbortSignal): Promise<void> {
    const c = await this.findLbContainer(cluster, signal);
    if (c) await this.removeContainer(c.Id, signal);
  }

  loadBalancer(cluster: string): DockerNodeHandle {
    const resolve = async (signal?: AbortSignal): Promise<string> => {
      const c = await this.findLbContainer(cluster, signal);
      if (!c) throw new DriverError(`cluster ${cluster} has no load balancer (no container labelled ${LABELS.component}=load-balancer)`);
      return c.Id;
    };
    return new DockerNodeHandle(this.docker, lbName(cluster), resolve, this.log);
  }

  private async findLbContainer(cluster: string, signal?: AbortSignal): Promise<Dockerode.ContainerInfo | undefined> {
    return (await this.listContainers({ label: [`${LABELS.cluster}=${cluster}`, `${LABELS.component}=load-balancer`] }, signal))[0];
  }

  private async observeLb(cluster: string, signal?: AbortSignal): Promise<ObservedLoadBalancer> {
    const [c, network] = await Promise.all([this.findLbContainer(cluster, signal), this.findNetwork(cluster, signal)]);
    if (!c) throw new DriverError(`the load balancer of cluster ${cluster} vanished right after it was started`);
    return observedLoadBalancer(c, network?.Name);
  }

  // ---- internals ---------------------------------------------------------------------------

  private async createAndStart(req: NodeCreateRequest, network: ObservedNetwork, signal?: AbortSignal): Promise<void> {
    const { node } = req;
    if (!network.subnet) throw new DriverError(`network ${network.name} has no IPv4 subnet; cannot give ${node.name} a static address`);
    const tried: string[] = [];
    let nameConflicts = 0;
    // "Any free port" is picked here, once: a port Docker picks is picked again at every start, and
    // kubeconfigs would lose the API server after a restart. A remote engine's ports cannot be probed from here.
    const pickPort = req.apiServerPort === 0 && this.socketPath !== undefined;
    for (let attempt = 1; ; attempt++) {
      const used = [...(await this.usedAddresses(network, signal)), ...tried];
      const address = firstFreeAddress(network.subnet, network.gateway, used);
      const apiServerPort = pickPort ? await freeLocalPort() : req.apiServerPort;
      throwIfAborted(signal, `create node ${node.name}`);
      const options = nodeContainerOptions({
        request: { ...req, ...(apiServerPort !== undefined ? { apiServerPort } : {}) },
        network: network.name,
        ipv4Address: address,
        privileged: this.options.privileged,
        mountLibModules: this.mountLibModules,
        kmsgDevice: this.kmsgDevice,
        createdBy: this.createdBy,
      });
      let container: Dockerode.Container;
      try {
        container = await this.docker.createContainer(withSignal(options, signal));
      } catch (err) {
        if (conflictOf(err) === 'name') {
          // The name is taken. By a container the engine is still removing (a create cancelled by a
          // killed mk is rolled back a moment later): wait and retry. By our own node (created
          // meanwhile): use it. By anything else: refuse.
          const holder = await this.nameHolder(node, signal);
          if (holder === 'ours') return;
          if (holder === 'going' && nameConflicts++ < NAME_CONFLICT_RETRIES) {
            this.log('docker name still held by a container being removed; retrying', { node: node.name });
            // Aborted, the wait rejects (as AbortedError, like every other abort here).
            await sleep(NAME_CONFLICT_WAIT_MS, undefined, { signal }).catch((err: unknown) => {
              throw wrapDockerError(`create node ${node.name}`, err);
            });
            continue;
          }
          throw new DriverError(`a container named "${node.name}" exists but is not labelled as node ${node.name} of cluster ${node.cluster}; mk will not touch it`, { cause: err });
        }
        throw wrapDockerError(`create container ${node.name}`, err);
      }
      this.log('docker createContainer', { container: container.id, node: node.name, image: req.image, address, ...(apiServerPort ? { apiServerPort } : {}) });
      try {
        this.log('docker start', { container: container.id, node: node.name });
        await container.start(withSignal({}, signal));
        return;
      } catch (err) {
        const taken = takenAtStart(err);
        const addressTaken = taken === 'address';
        if ((addressTaken || (taken === 'port' && pickPort)) && attempt < ADDRESS_ATTEMPTS) {
          this.log(`docker ${addressTaken ? 'address' : 'port'} taken, retrying`, { container: container.id, node: node.name, address, ...(apiServerPort ? { apiServerPort } : {}) });
          if (addressTaken) tried.push(address);
          await this.removeContainer(container.id, signal);
          continue;
        }
        throw wrapDockerError(`start container ${node.name} (${container.id.slice(0, 12)})`, err);
      }
    }
  }

  /** Who holds a container name: our node (started if need be), a container on its way out, or someone else. */
  private async nameHolder(node: NodeCreateRequest['node'], signal?: AbortSignal): Promise<'ours' | 'going' | 'foreign'> {
    let info: Dockerode.ContainerInspectInfo;
    try {
      info = await this.docker.getContainer(node.name).inspect(withSignal({}, signal));
    } catch (err) {
      if (isNotFound(err)) return 'going';
      throw wrapDockerError(`inspect container ${node.name}`, err);
    }
    if (info.State.Status === 'removing' || info.State.Status === 'dead') return 'going';
    const labels = info.Config.Labels ?? {};
    if (labels[LABELS.cluster] !== node.cluster || labels[LABELS.component] !== 'node' || labels[LABELS.node] !== node.name) return 'foreign';
    if (!info.State.Running) await this.docker.getContainer(info.Id).start(withSignal({}, signal));
    return 'ours';
  }

  private async startContainer(c: Dockerode.ContainerInfo, signal?: AbortSignal): Promise<void> {
    const container = this.docker.getContainer(c.Id);
    try {
      if (c.State === 'running' || c.State === 'restarting') return;
      if (c.State === 'paused') {
        this.log('docker unpause', { container: c.Id });
        await container.unpause(withSignal({}, signal));
        return;
      }
      this.log('docker start', { container: c.Id });
      await container.start(withSignal({}, signal));
    } catch (err) {
      if (statusCode(err) === 304) return; // already started
      throw wrapDockerError(`start container ${c.Id.slice(0, 12)}`, err);
    }
  }

  private async removeContainer(id: string, signal?: AbortSignal): Promise<void> {
    this.log('docker removeContainer', { container: id });
    await tolerate404(() => this.docker.getContainer(id).remove(withSignal({ force: true, v: false }, signal)), `remove container ${id.slice(0, 12)}`);
  }

  private async ensureImage(image: string, signal?: AbortSignal): Promise<void> {
    this.log('docker inspectImage', { image });
    try {
      await this.docker.getImage(image).inspect(withSignal({}, signal));
      return;
    } catch (err) {
      if (!isNotFound(err)) throw wrapDockerError(`inspect image ${image}`, err);
    }
    this.log('docker pull', { image });
    try {
      const stream = await this.docker.pull(image, withSignal({}, signal));
      await new Promise<void>((resolve, reject) => {
        this.docker.modem.followProgress(stream, (err: Error | null, events: Array<{ error?: string }>) => {
          const failed = events?.find((e) => e.error);
          if (err) reject(err);
          else if (failed) reject(new Error(failed.error));
          else resolve();
        });
      });
    } catch (err) {
      throw unreachableEngine(err) ?? new NodeImageError(image, dockerMessage(err), { cause: err, engine: this.engine.driver });
    }
  }

  private async ensureVolume(req: NodeCreateRequest, signal?: AbortSignal): Promise<void> {
    const name = varVolumeName(req.node.name);
    try {
      const info = await this.docker.getVolume(name).inspect(withSignal({}, signal));
      if (info.Labels?.[LABELS.cluster] !== req.node.cluster || info.Labels?.[LABELS.node] !== req.node.name) {
        throw new DriverError(`volume ${name} exists but is not labelled for node ${req.node.name} of cluster ${req.node.cluster}; mk will not use it`);
      }
      this.log('docker volume reused', { volume: name });
      return;
    } catch (err) {
      if (!isNotFound(err)) throw wrapDockerError(`inspect volume ${name}`, err);
    }
    this.log('docker createVolume', { volume: name });
    try {
      await this.docker.createVolume(withSignal(varVolumeOptions(req, this.createdBy), signal));
    } catch (err) {
      throw wrapDockerError(`create volume ${name}`, err);
    }
  }

  /** Addresses on the network: running endpoints and the static addresses of stopped members (configured, or mk's label: podman reports neither). */
  private async usedAddresses(network: ObservedNetwork, signal?: AbortSignal): Promise<string[]> {
    const used: string[] = [];
    let info: Dockerode.NetworkInspectInfo;
    try {
      throwIfAborted(signal, `inspect network ${network.name}`);
      info = await this.docker.getNetwork(network.id).inspect();
    } catch (err) {
      throw wrapDockerError(`inspect network ${network.name}`, err);
    }
    for (const c of Object.values(info.Containers ?? {})) if (c.IPv4Address) used.push(c.IPv4Address);
    const members = await this.listContainers({ network: [network.id] }, signal);
    for (const c of members) {
      const entry = c.NetworkSettings?.Networks?.[network.name];
      const configured = (entry?.IPAMConfig as { IPv4Address?: string } | null | undefined)?.IPv4Address;
      if (configured) used.push(configured);
      if (entry?.IPAddress) used.push(entry.IPAddress);
      const labelled = c.Labels?.[LABELS.address];
      if (labelled) used.push(labelled);
    }
    return used;
  }

  /** The engine's networks' subnets and, for an engine on this machine, the routes it has (another engine's bridges among them). */
  private async usedSubnets(signal?: AbortSignal): Promise<string[]> {
    const [all, routed] = await Promise.all([this.listNetworks({}, signal), this.socketPath ? routedSubnets(this.procRoot) : []]);
    return [...all.flatMap((n) => (n.IPAM?.Config ?? []).map((c) => c.Subnet).filter((s): s is string => typeof s === 'string')), ...routed];
  }

  private async observeNode(cluster: string, name: string, signal?: AbortSignal): Promise<ObservedNode> {
    const [c, network] = await Promise.all([this.findNodeContainer(cluster, name, signal), this.findNetwork(cluster, signal)]);
    if (!c) throw new DriverError(`node ${name} of cluster ${cluster} vanished right after it was started`);
    return observedNode(c, network?.Name);
  }

  /** The node's container; none is an error naming the label it was looked for by. */
  private async nodeContainer(cluster: string, name: string, signal?: AbortSignal): Promise<Dockerode.ContainerInfo> {
    const c = await this.findNodeContainer(cluster, name, signal);
    if (!c) throw new DriverError(`node ${name} of cluster ${cluster} not found (no container labelled ${LABELS.node}=${name})`);
    return c;
  }

  private async findNodeContainer(cluster: string, name: string, signal?: AbortSignal): Promise<Dockerode.ContainerInfo | undefined> {
    const found = await this.listContainers(nodeFilter(cluster, name), signal);
    if (found.length > 1) {
      throw new DriverError(`${found.length} containers are labelled as node ${name} of cluster ${cluster} (${found.map((c) => c.Id.slice(0, 12)).join(', ')}); remove the extra ones`);
    }
    return found[0];
  }

  private async findNetwork(cluster: string, signal?: AbortSignal): Promise<Dockerode.NetworkInspectInfo | undefined> {
    const found = await this.listNetworks({ label: [`${LABELS.cluster}=${cluster}`, `${LABELS.component}=network`] }, signal);
    return found[0];
  }

  private async listContainers(filters: Filters, signal?: AbortSignal): Promise<Dockerode.ContainerInfo[]> {
    throwIfAborted(signal, 'list containers');
    this.log('docker listContainers', { filters });
    try {
      return matching(await this.docker.listContainers(withSignal({ all: true, filters }, signal)), filters);
    } catch (err) {
      throw wrapDockerError('list containers', err);
    }
  }

  private async listNetworks(filters: Filters, signal?: AbortSignal): Promise<Dockerode.NetworkInspectInfo[]> {
    throwIfAborted(signal, 'list networks');
    this.log('docker listNetworks', { filters });
    try {
      return matching(await this.docker.listNetworks(withSignal({ filters }, signal)), filters);
    } catch (err) {
      throw wrapDockerError('list networks', err);
    }
  }

  private async listVolumes(filters: Filters, signal?: AbortSignal): Promise<Dockerode.VolumeInspectInfo[]> {
    throwIfAborted(signal, 'list volumes');
    this.log('docker listVolumes', { filters });
    try {
      const res = await this.docker.listVolumes(withSignal({ filters }, signal));
      return matching(res.Volumes ?? [], filters);
    } catch (err) {
      throw wrapDockerError('list volumes', err);
    }
  }

  /** One container creation per cluster at a time (port and address choices must not race). */
  private withClusterLock<T>(cluster: string, fn: () => Promise<T>): Promise<T> {
    let limit = this.clusterLocks.get(cluster);
    if (!limit) this.clusterLocks.set(cluster, (limit = pLimit(1)));
    return limit(fn);
  }
}

function clusterFilter(cluster: string): Filters {
  return { label: [`${LABELS.cluster}=${cluster}`] };
}

function nodeFilter(cluster: string, name: string): Filters {
  return { label: [`${LABELS.cluster}=${cluster}`, `${LABELS.component}=node`, `${LABELS.node}=${name}`] };
}

/**
 * What carries every label the filters name (key=value, or key alone). Docker's label filters all
 * hold at once; podman 4.3's volume list returns what matches any one of them.
 */
function matching<T extends { Labels?: Record<string, string> | null }>(items: T[], filters: Filters): T[] {
  const wanted = (filters.label ?? []).map((l) => l.split(/=(.*)/s) as [string, string | undefined]);
  return items.filter((item) => wanted.every(([key, value]) => item.Labels?.[key] !== undefined && (value === undefined || item.Labels[key] === value)));
}

function withSignal<T extends object>(options: T, signal: AbortSignal | undefined): T {
  return signal ? { ...options, abortSignal: signal } : options;
}

async function tolerate404(fn: () => Promise<unknown>, what: string): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (isNotFound(err)) return;
    throw wrapDockerError(what, err);
  }
}

/** A TCP port nothing listens on at 127.0.0.1 now, as the kernel hands it out. */
function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new DriverError('no free port on 127.0.0.1'))));
    });
  });
}

/** An address or a picked port taken since we looked (another process) fails at start with no distinct status: told by its message. */
function takenAtStart(err: unknown): 'port' | 'address' | undefined {
  const message = String((err as Error).message);
  if (/port is already allocated|bind: address already in use/i.test(message)) return 'port';
  return /address already in use|already allocated/i.test(message) ? 'address' : undefined;
}

function choose(choice: HostPathChoice, localDaemon: boolean, path: string, remoteDefault: boolean): boolean {
  if (choice !== 'auto') return choice;
  return localDaemon ? existsSync(path) : remoteDefault;
}
