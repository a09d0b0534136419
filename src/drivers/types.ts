// The narrow port every driver implements. Planning reads ObservedCluster; steps call Driver and NodeHandle.
import type { Readable } from 'node:stream';
import type { DesiredNode, Role } from '../spec/types.js';
import type { KubeadmImage } from '../catalog/types.js';

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface ExecOptions {
  /**
   * Bytes written to the command's stdin, then closed. A stream is piped as it comes (its pace set
   * by the command: never held in memory whole) and closed when it ends; a command that ends before
   * it has read the whole stream ends it too (the stream is destroyed).
   */
  stdin?: string | Buffer | Readable;
  env?: Record<string, string>;
  user?: string;
  signal?: AbortSignal;
}

/** A running node: run argv (never a shell string built from spec values) and copy files in. */
export interface NodeHandle {
  readonly name: string;
  exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Like exec, but a non-zero exit throws CommandError carrying argv and output. */
  run(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Write a file (parents created) with the given mode; content never logged. */
  writeFile(path: string, content: string | Buffer, mode: number, opts?: { signal?: AbortSignal }): Promise<void>;
}

/** 'unreachable': an ssh host that did not answer; planning leaves it alone (never "creates" over it). */
export type NodeState = 'running' | 'stopped' | 'restarting' | 'paused' | 'dead' | 'created' | 'unreachable';

export interface ObservedNode {
  name: string;
  pool: string;
  ordinal: number;
  role: Role;
  /** Driver-specific id (container id). */
  id: string;
  state: NodeState;
  /** Address on the cluster network. */
  address?: string;
  /** 127.0.0.1 port published for the API server (control planes). */
  apiServerPort?: number;
  image: string;
  configHash: string;
  /** Why the node is in its state, when the driver knows (e.g. the connection error of an unreachable host). */
  detail?: string;
  /**
   * Running nodes, filled in after observe: whether kubeadm finished here (its sentinel); 'stale':
   * it finished, but for an earlier cluster of this name (another CA than the control plane's).
   * Undefined: not checked.
   */
  kubeadm?: 'done' | 'none' | 'stale';
  /** Running nodes kubeadm finished on, filled in after observe: whether the node works. Undefined: not checked. */
  health?: NodeHealth;
  /** Running nodes of a spec that lists images, filled in after observe: what the node's runtime holds. Undefined: not checked. */
  images?: NodeImages;
}

/** The images a node's container runtime holds (containerd's k8s.io namespace, or dockerd). */
export interface NodeImages {
  held: NodeImage[];
  /** Why the runtime could not be asked (no ctr on the node...): `held` is then empty. */
  error?: string;
}

export interface NodeImage {
  /** Full reference, e.g. docker.io/library/nginx:1.27. */
  ref: string;
  /** Image ID (the config digest, as `docker images` shows it) where the runtime says; else the manifest digest. */
  id: string;
  /** The manifest (or index) digest the reference points at, when the runtime says. */
  digest?: string;
  /** As the runtime prints it (e.g. "70.9 MiB"). */
  size?: string;
}

/**
 * Where images for the nodes come from: a Docker engine on the machine mk runs on (or the one the
 * docker driver's nodes run on). References are as the user wrote them.
 */
export interface ImageSource {
  /** For messages: "the Docker engine at unix:///var/run/docker.sock". */
  readonly description: string;
  /** The image a reference names there; undefined when the engine does not have it. */
  inspect(ref: string, signal?: AbortSignal): Promise<SourceImage | undefined>;
  /** Whether a registry serves the reference (asked without pulling): undefined when one does, else why not. */
  pullable(ref: string, signal?: AbortSignal): Promise<string | undefined>;
  /** Pulls the reference into the engine. */
  pull(ref: string, signal?: AbortSignal): Promise<void>;
  /** The images as one archive (`docker save`), streamed as the engine writes it. */
  save(refs: readonly string[], signal?: AbortSignal): Promise<Readable>;
}

export interface SourceImage {
  ref: string;
  /** Image ID: sha256:<config digest>. */
  id: string;
  /** Bytes, uncompressed (about what `docker save` writes). */
  size: number;
}

export interface NodeHealth {
  /** What `systemctl is-active kubelet` says: active, inactive, failed, activating... */
  kubelet: string;
  /** Whether mk's CNI config is on the node (cni: auto; undefined otherwise). */
  cniConfig?: boolean;
  /** Whether mk's node network is whole: restored at boot, the API endpoint name in /etc/hosts (undefined: not checked). */
  nodeNetwork?: boolean;
  /** The Node's Ready condition as the API server has it; 'unregistered': no Node object; undefined: the API server did not answer. */
  ready?: { status: string; reason?: string; message?: string } | 'unregistered';
  /** The kubelet's version as its Node reports it (status.nodeInfo.kubeletVersion); undefined: not registered or not read. */
  version?: string;
}

export interface ObservedNetwork {
  id: string;
  name: string;
  subnet?: string;
  gateway?: string;
}

/**
 * The API endpoint mk runs in front of a cluster's control planes when it has more than one (a
 * load-balancer container on the cluster network; drivers whose nodes are containers).
 */
export interface ObservedLoadBalancer {
  id: string;
  /** Container name. */
  name: string;
  state: NodeState;
  /** Address on the cluster network: what the nodes' API endpoint name resolves to. */
  address?: string;
  /** 127.0.0.1 port published for the API (what the exported kubeconfig points at). */
  apiServerPort?: number;
  image: string;
  /** Its backends as its configuration lists them (control plane name -> address); read after observe when it runs. Undefined: not read. */
  backends?: Record<string, string>;
}

export interface LoadBalancerRequest {
  cluster: string;
  image: string;
  /** The 127.0.0.1 port to publish the API on: 0 = any free port. */
  apiServerPort: number;
  /** The configuration it starts with (written before it starts). */
  config: string;
}

export interface ObservedCluster {
  name: string;
  network?: ObservedNetwork;
  nodes: ObservedNode[];
  /** mk's load balancer in front of the control planes, when there is one. */
  loadBalancer?: ObservedLoadBalancer;
  /** The etcd members as a running control plane lists them; read when the cluster has or wants more than one control plane. Undefined: not read. */
  etcd?: ObservedEtcd;
  /** mk-owned volumes with no node container using them (left by a killed run, or by a node container removed by hand). */
  orphanVolumes: string[];
  /** The node each orphan volume was made for, where the driver knows it (its label). */
  orphanVolumeNodes?: Record<string, string>;
  /** Per desired node that is not a node yet: what the driver found on its host and what it still needs (ssh facts). */
  hostNotes?: Record<string, string>;
  /** Whether the user's kubeconfig has mk's context for the cluster pointing at a control plane. Undefined: not checked. */
  kubeconfig?: 'ok' | 'missing';
  /** Addons of a bootstrapped kubeadm cluster, read through its API server. Undefined: not checked (not bootstrapped yet, or the caller did not look). */
  addons?: ObservedAddons;
  /** The machine the nodes share (Docker: the engine's host); read only when the plan may bring nodes up. Undefined: not read. */
  host?: HostFacts;
}

/**
 * What kills nodes that share a machine's kernel, as read there. Each part is undefined where it
 * cannot be read (a remote engine's /proc, an engine that does not say).
 */
export interface HostFacts {
  inotify?: InotifyFacts;
  /** Free space where the engine keeps images, containers and the nodes' volumes. */
  disk?: { path: string; freeBytes: number };
  /** Capabilities the engine cannot give a container (missing from its bounding set), e.g. CAP_SYS_RESOURCE in a sandbox. */
  engineLacksCapabilities?: string[];
  /** Whether the engine has the memory cgroup controller (the kubelet needs it). */
  memoryCgroup?: boolean;
}

export interface InotifyFacts {
  /** fs.inotify.max_user_instances and max_user_watches: per user, and node processes run as one user (root with a rootful engine). */
  maxUserInstances: number;
  maxUserWatches: number;
  /** The user whose processes were counted (node processes run as it). */
  uid: number;
  /** Instances and watches held now by that user's processes. */
  instancesInUse: number;
  watchesInUse: number;
  /** Processes of that user whose descriptors could not be read (mk not running as root): the counts above are a lower bound. */
  unreadable: number;
}

export interface ObservedEtcd {
  members: EtcdMember[];
  /** Why the members could not be read (then `members` is empty and the plan changes no member). */
  error?: string;
}

export interface EtcdMember {
  /** etcd's member ID, as the decimal string its JSON API gives. */
  id: string;
  /** kubeadm names a member after its node. '' for a member added but never started. */
  name: string;
  peerUrls: string[];
}

/** What the planner needs to know about addons (src/addons/observe.ts fills it in). */
export interface ObservedAddons {
  /** Installed addons, from their inventories. Empty when `error` is set. */
  installed: ObservedAddon[];
  /** Why the addons could not be read (API server not answering, no control plane running): the plan then changes no addon. */
  error?: string;
  /** The images kubeadm's components run, for the enabled addons that run them too (absent: not wanted, or the cluster has no such component). */
  kubeadmImages?: Partial<Record<KubeadmImage, string>>;
}

export interface ObservedAddon {
  name: string;
  /** Catalog version, or "user". */
  version: string;
  specHash: string;
  contentHash: string;
  /** How many objects its inventory lists. */
  objects: number;
  /** Objects of the inventory that are gone or being deleted (drift), as "Kind namespace/name". */
  missing: string[];
  /** Objects of the inventory that exist without mk's labels for the addon (someone replaced them). */
  foreign: string[];
}

/** What createNode needs beyond the desired node: derived in the planner, applied by the driver. */
export interface NodeCreateRequest {
  node: DesiredNode;
  image: string;
  configHash: string;
  /** Publish the API server port (control planes): 0 = any free port on 127.0.0.1. */
  apiServerPort?: number;
}

export interface NetworkRequest {
  cluster: string;
  name?: string;
  subnet?: string;
}

export interface Driver {
  readonly name: string;
  /** Everything mk owns for the cluster, found by label. Pure read. */
  observe(cluster: string, signal?: AbortSignal): Promise<ObservedCluster>;
  /** Names of clusters that have at least one mk-owned object. */
  listClusters(signal?: AbortSignal): Promise<string[]>;
  /** Idempotent: returns the existing network when present. */
  ensureNetwork(req: NetworkRequest, signal?: AbortSignal): Promise<ObservedNetwork>;
  /** Idempotent: a node that exists already (same name, label-matched) is returned, not duplicated. */
  createNode(req: NodeCreateRequest, signal?: AbortSignal): Promise<ObservedNode>;
  startNode(cluster: string, name: string, signal?: AbortSignal): Promise<void>;
  /**
   * Stops a node and keeps it (its volume, address and published port) for startNode; tolerates
   * "already stopped". docker: the container stops (systemd shuts down); ssh: the machine stays up,
   * the kubelet and the runtime's pods stop.
   */
  stopNode(cluster: string, name: string, signal?: AbortSignal): Promise<void>;
  /** Removes the node and its volume; tolerates "already gone". */
  removeNode(cluster: string, name: string, signal?: AbortSignal): Promise<void>;
  removeVolume(cluster: string, volume: string, signal?: AbortSignal): Promise<void>;
  /** Removes the cluster network; tolerates "already gone". */
  removeNetwork(cluster: string, signal?: AbortSignal): Promise<void>;
  /**
   * Drivers that can run mk's load balancer (capabilities: loadBalancer). Idempotent: an existing
   * one is started if need be and returned; a new one gets a static address and the requested port.
   */
  createLoadBalancer?(req: LoadBalancerRequest, signal?: AbortSignal): Promise<ObservedLoadBalancer>;
  /** Stops the load balancer and keeps it; tolerates "already stopped" and "gone". */
  stopLoadBalancer?(cluster: string, signal?: AbortSignal): Promise<void>;
  /** Removes the load balancer; tolerates "already gone". */
  removeLoadBalancer?(cluster: string, signal?: AbortSignal): Promise<void>;
  /** Runs argv in and writes files into the load balancer. */
  loadBalancer?(cluster: string): NodeHandle;
  node(cluster: string, name: string): NodeHandle;
  /**
   * A session on a running node with the user's streams passed through (mk ssh): docker exec, or ssh
   * with mk's connection settings as the login user. Resolves with the command's exit code.
   */
  shell(cluster: string, name: string, req: ShellRequest): Promise<number>;
  /**
   * What the driver itself knows of a node, for a bug report (mk logs), also when the node does not
   * run: docker: the container's log and inspect; ssh: the host's facts and mk's marker. Read-only.
   */
  nodeReport(cluster: string, name: string, signal?: AbortSignal): Promise<ReportFile[]>;
  /** Drivers whose nodes share a machine's kernel (Docker): what that machine has left for more nodes. Read only; called before nodes come up. */
  hostFacts?(signal?: AbortSignal): Promise<HostFacts>;
  /** Where images loaded into the nodes come from: the Docker engine (docker: the nodes' own; ssh: the one on this machine). */
  imageSource(): ImageSource;
  close?(): Promise<void>;
}

/** What mk ssh runs on a node, and the user's side of it. */
export interface ShellRequest {
  /** The command (argv, never a shell string built from spec values); undefined: the node's login shell. */
  argv?: readonly string[];
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Set when the user is at a terminal (the caller puts it in raw mode): a pseudo-terminal of this kind is allocated. */
  tty?: ShellTerminal;
  signal?: AbortSignal;
}

export interface ShellTerminal {
  /** TERM for the session. */
  term: string;
  size(): { columns: number; rows: number };
  /** Calls back when the user's terminal is resized; returns the unsubscribe. */
  onResize(listener: () => void): () => void;
}

/** One file of a bug report: its name in the node's folder, and its content (redacted by the caller before it is written). */
export interface ReportFile {
  name: string;
  content: string;
}
