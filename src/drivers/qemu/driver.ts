// The qemu driver: nodes are virtual machines on this machine. Each VM boots the VM node image
// (image.ts) from a copy-on-write overlay, joins its cluster's network (a multicast socket on the
// loopback interface: no privileges), and is reached over ssh through a 127.0.0.1 forward, with a
// host key mk generated and pins (never trust-on-first-use). Commands and files travel over the
// ssh driver's machinery (pool.ts, remote.ts). What mk made is recorded under
// $MK_HOME/machines/qemu (layout.ts): the record is the ownership mark, as labels are for containers.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { DriverError } from '../../errors.js';
import { mkHome } from '../../state.js';
import type { QemuDriverOptions } from '../../spec/types.js';
import { localImageSource } from '../docker/images.js';
import { firstFreeAddress, pickFreeSubnet } from '../docker/ipam.js';
import type { Driver, ImageSource, NetworkRequest, NodeCreateRequest, NodeHandle, ObservedCluster, ObservedNetwork, ObservedNode, ReportFile, ShellRequest } from '../types.js';
import { DEFAULT_TIMEOUTS, SshConnection } from '../ssh/connection.js';
import { loadAuth } from '../ssh/auth.js';
import { ed25519KeyPair } from '../ssh/keygen.js';
import { KnownHosts, fingerprint } from '../ssh/known-hosts.js';
import type { Endpoint } from '../ssh/ssh-config.js';
import { ConnectionPool } from '../ssh/pool.js';
import type { Host, SshLog } from '../ssh/pool.js';
import { shellQuote } from '../ssh/quote.js';
import { Remote, sshNodeHandle } from '../ssh/remote.js';
import { cidrAddress, clusterMcast, nodeMac, qemuArgv } from './args.js';
import type { Accel, VmFiles } from './args.js';
import { readVmImage } from './image.js';
import type { VmImage } from './image.js';
import { Layout, machinesLayout } from './layout.js';
import type { NodeRecord } from './layout.js';
import { QEMU_BINARY, checkHostArch, endVm, freePort, kvmAccessible, runProgram, runningPid } from './machine.js';

/** /24s for clusters' VM networks. The network exists only between the VMs, so it only has to avoid the guests' own ranges (10.0.2.0/24 of user-mode networking, pods, services). */
export const VM_SUBNET_POOL = '10.213.0.0/16';

export interface QemuDriverConfig {
  options: QemuDriverOptions;
  version?: string;
  log?: SshLog;
  /** mk's state directory; default $MK_HOME. */
  mkHome?: string;
  /** How long a booting VM has to answer ssh; default 300 s (a KVM trial has 120 s, then falls back). */
  bootTimeoutMs?: number;
}

/** Where KVM was tried, and what it gave: kept so the next VM does not try again. */
interface KvmVerdict {
  works: boolean;
  why?: string;
  checkedAt: string;
}

interface ClusterAccess {
  pins: PinnedHostKeys;
  pool: ConnectionPool;
  remote: Remote;
}

export class QemuDriver implements Driver {
  readonly name = 'qemu';
  private readonly layout: Layout;
  private readonly log: SshLog;
  private readonly access = new Map<string, ClusterAccess>();
  private image: Promise<VmImage> | undefined;
  private images: ImageSource | undefined;
  private accel: Promise<{ accel: Accel; trial: boolean }> | undefined;
  private allocating: Promise<unknown> = Promise.resolve();

  constructor(private readonly config: QemuDriverConfig) {
    this.layout = machinesLayout(config.mkHome ?? mkHome());
    this.log = config.log ?? (() => {});
  }

  // ---- reads -------------------------------------------------------------------------------

  async observe(cluster: string): Promise<ObservedCluster> {
    const rec = await this.layout.readCluster(cluster);
    const { records, partial } = await this.layout.nodes(cluster);
    const nodes = await Promise.all(records.map((r) => this.observed(r)));
    return {
      name: cluster,
      ...(rec ? { network: { id: rec.mcast, name: `mk-${cluster}`, subnet: rec.subnet } } : {}),
      nodes,
      // A node folder without its record: a creation cut short before the VM existed.
      orphanVolumes: partial,
      orphanVolumeNodes: Object.fromEntries(partial.map((p) => [p, p])),
    };
  }

  listClusters(): Promise<string[]> {
    return this.layout.ownedClusters();
  }

  // ---- network -----------------------------------------------------------------------------

  async ensureNetwork(req: NetworkRequest): Promise<ObservedNetwork> {
    const existing = await this.layout.readCluster(req.cluster);
    if (existing) return { id: existing.mcast, name: `mk-${req.cluster}`, subnet: existing.subnet };
    const others = (await Promise.all((await this.layout.clusters()).map((c) => this.layout.readCluster(c)))).filter((r) => r !== undefined);
    const subnet = req.subnet ?? pickFreeSubnet(others.map((o) => o.subnet), VM_SUBNET_POOL);
    const mcast = clusterMcast(req.cluster, others.map((o) => o.mcast));
    await this.ensureClientKey(req.cluster);
    await this.layout.writeCluster({ cluster: req.cluster, subnet, mcast, createdBy: `mk ${this.config.version ?? 'dev'}` });
    this.log('qemu network', { cluster: req.cluster, subnet, mcast });
    return { id: mcast, name: `mk-${req.cluster}`, subnet };
  }

  async removeNetwork(cluster: string): Promise<void> {
    const { records } = await this.layout.nodes(cluster);
    if (records.length > 0) throw new DriverError(`cluster ${cluster} still has VMs (${records.map((r) => r.name).join(', ')}); remove them first`);
    this.closeAccess(cluster);
    await this.layout.removeCluster(cluster);
  }

  /** A node folder left without its record (see observe). */
  async removeVolume(cluster: string, volume: string): Promise<void> {
    if (await this.layout.readNode(cluster, volume)) throw new DriverError(`${volume} is a node of cluster ${cluster}, not a leftover`);
    await this.layout.removeNode(cluster, volume);
  }

  // ---- nodes -------------------------------------------------------------------------------

  async createNode(req: NodeCreateRequest, signal?: AbortSignal): Promise<ObservedNode> {
    const { node } = req;
    const cluster = node.cluster;
    const existing = await this.layout.readNode(cluster, node.name);
    if (existing) {
      if (existing.configHash !== req.configHash) throw new DriverError(`VM ${node.name} exists with other settings (config hash ${existing.configHash}); run mk plan again`);
      await this.boot(existing, signal);
      return this.observed(existing);
    }
    checkHostArch();
    // Addresses and ports are picked from the records: one node at a time, record written before the next looks.
    const rec = await this.serially(() => this.makeVm(req, signal));
    await this.boot(rec, signal);
    return this.observed(rec);
  }

  async startNode(cluster: string, name: string, signal?: AbortSignal): Promise<void> {
    await this.boot(await this.record(cluster, name), signal);
  }

  /** ACPI power-down (the guest stops its services and unmounts), QMP quit after 60 s. The disk stays. */
  async stopNode(cluster: string, name: string, signal?: AbortSignal): Promise<void> {
    const rec = await this.layout.readNode(cluster, name);
    if (!rec) return;
    this.closeAccess(cluster);
    await endVm(this.files(rec), true, signal);
  }

  async removeNode(cluster: string, name: string, signal?: AbortSignal): Promise<void> {
    const rec = await this.layout.readNode(cluster, name);
    if (rec) await endVm(this.files(rec), false, signal);
    this.access.get(cluster)?.pins.forget(rec?.sshPort);
    await this.layout.removeNode(cluster, name);
  }

  imageSource(): ImageSource {
    this.images ??= localImageSource(this.config.log);
    return this.images;
  }

  node(cluster: string, name: string): NodeHandle {
    return sshNodeHandle(name, this.clusterAccess(cluster).remote, async () => this.host(await this.record(cluster, name)));
  }

  async shell(cluster: string, name: string, req: ShellRequest): Promise<number> {
    const rec = await this.record(cluster, name);
    const conn = await this.clusterAccess(cluster).pool.connection(this.host(rec), req.signal);
    if (req.argv?.length === 0) throw new DriverError('mk ssh needs a command after --, or none for a shell');
    return conn.session(req.argv ? shellQuote(req.argv) : undefined, req);
  }

  /** The node's record, how qemu runs it, and the end of its serial console (the guest's boot messages). */
  async nodeReport(cluster: string, name: string): Promise<ReportFile[]> {
    const rec = await this.record(cluster, name);
    const files = this.files(rec);
    const pid = await runningPid(files.pidfile, files.disk);
    const cmdline = pid ? (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ') : 'not running';
    const console = await readFile(files.console, 'utf8').catch(() => '(no console output)');
    return [
      { name: 'vm.json', content: JSON.stringify({ ...rec, pid: pid ?? null }, null, 2) + '\n' },
      { name: 'qemu-cmdline.txt', content: cmdline + '\n' },
      { name: 'console.log', content: console.slice(-256 * 1024) },
    ];
  }

  async close(): Promise<void> {
    for (const c of [...this.access.keys()]) this.closeAccess(c);
  }

  // ---- internals ---------------------------------------------------------------------------

  /** The VM's record and files (disk overlay, keys), without starting it. */
  private async makeVm(req: NodeCreateRequest, signal?: AbortSignal): Promise<NodeRecord> {
    const { node } = req;
    const cluster = node.cluster;
    const image = await this.vmImage();
    await this.ensureNetwork({ cluster });
    const net = await this.layout.readCluster(cluster);
    if (!net) throw new DriverError(`cluster ${cluster} has no VM network record`);
    const { records } = await this.layout.nodes(cluster);
    const allRecords = (await Promise.all((await this.layout.clusters()).map((c) => this.layout.nodes(c)))).flatMap((n) => n.records);
    const usedPorts = new Set(allRecords.flatMap((r) => [r.sshPort, ...(r.apiServerPort ? [r.apiServerPort] : [])]));
    const sshPort = await freePort(usedPorts);
    usedPorts.add(sshPort);
    const apiServerPort = node.role === 'control-plane' ? req.apiServerPort || (await freePort(usedPorts)) : undefined;
    const o = this.config.options;
    const rec: NodeRecord = {
      cluster,
      name: node.name,
      pool: node.pool,
      ordinal: node.ordinal,
      role: node.role,
      configHash: req.configHash,
      image: image.dir,
      imageId: image.id,
      address: firstFreeAddress(net.subnet, undefined, records.map((r) => r.address)),
      mac: nodeMac(cluster, node.name),
      sshPort,
      ...(apiServerPort ? { apiServerPort } : {}),
      cpus: o.cpus,
      memoryMiB: o.memory,
      diskGiB: o.disk,
      createdBy: `mk ${this.config.version ?? 'dev'}`,
      createdAt: new Date().toISOString(),
    };
    const files = this.files(rec, image);
    await this.layout.removeNode(cluster, node.name);
    // The host key: made here, so mk knows it before the VM answers; the guest gets it through fw_cfg.
    const hostKey = ed25519KeyPair(node.name);
    await this.writeNodeFile(rec, 'host_ed25519', hostKey.private, 0o600);
    await this.writeNodeFile(rec, 'authorized_keys', await this.ensureClientKey(cluster), 0o600);
    await runProgram('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', image.disk, files.disk, `${rec.diskGiB}G`], signal);
    await this.layout.writeNode(rec);
    this.log('qemu node', { node: rec.name, address: rec.address, sshPort, apiServerPort, hostKey: fingerprint(hostKey.blob) });
    return rec;
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.allocating.then(fn, fn);
    this.allocating = run.catch(() => undefined);
    return run;
  }

  private vmImage(): Promise<VmImage> {
    this.image ??= readVmImage(this.config.options.image);
    return this.image;
  }

  private async record(cluster: string, name: string): Promise<NodeRecord> {
    const rec = await this.layout.readNode(cluster, name);
    if (!rec) throw new DriverError(`node ${name} of cluster ${cluster}: no VM of mk's (${this.layout.nodeDir(cluster, name)})`);
    return rec;
  }

  private files(rec: NodeRecord, image?: VmImage): VmFiles {
    const f = (n: Parameters<Layout['nodeFile']>[2]): string => this.layout.nodeFile(rec.cluster, rec.name, n);
    return {
      kernel: join(image?.dir ?? rec.image, 'vmlinuz'),
      initrd: join(image?.dir ?? rec.image, 'initrd.img'),
      disk: f('disk.qcow2'),
      pidfile: f('qemu.pid'),
      qmp: f('qmp.sock'),
      console: f('console.log'),
      hostKey: f('host_ed25519'),
      authorizedKeys: f('authorized_keys'),
    };
  }

  /** mk's key for the cluster's VMs (root logs in with it; it never leaves this machine), made once. */
  private async ensureClientKey(cluster: string): Promise<string> {
    const file = this.layout.clientKey(cluster);
    const existing = await readFile(`${file}.pub`, 'utf8').catch(() => undefined);
    if (existing) return existing;
    const key = ed25519KeyPair(`mk ${cluster}`);
    await mkdir(this.layout.clusterDir(cluster), { recursive: true, mode: 0o700 });
    await writeFile(file, key.private, { mode: 0o600 });
    await writeFile(`${file}.pub`, `${key.public}\n`, { mode: 0o644 });
    return `${key.public}\n`;
  }

  private async writeNodeFile(rec: NodeRecord, file: 'host_ed25519' | 'authorized_keys', content: string, mode: number): Promise<void> {
    await mkdir(this.layout.nodeDir(rec.cluster, rec.name), { recursive: true, mode: 0o700 });
    await writeFile(this.layout.nodeFile(rec.cluster, rec.name, file), content, { mode });
  }

  private host(rec: NodeRecord): Host {
    return { name: rec.name, address: '127.0.0.1', port: rec.sshPort, user: 'root' };
  }

  private async observed(rec: NodeRecord): Promise<ObservedNode> {
    const f = this.files(rec);
    const pid = await runningPid(f.pidfile, f.disk);
    return {
      name: rec.name,
      pool: rec.pool,
      ordinal: rec.ordinal,
      role: rec.role,
      id: `qemu:${rec.cluster}/${rec.name}`,
      state: pid !== undefined ? 'running' : 'stopped',
      address: rec.address,
      ...(rec.apiServerPort ? { apiServerPort: rec.apiServerPort } : {}),
      image: rec.image,
      configHash: rec.configHash,
    };
  }

  /** Starts the VM when it does not run, and waits until its sshd answers with the pinned key. */
  private async boot(rec: NodeRecord, signal?: AbortSignal): Promise<void> {
    const access = this.clusterAccess(rec.cluster);
    await access.pins.pin(rec);
    const f = this.files(rec);
    if ((await runningPid(f.pidfile, f.disk)) === undefined) {
      // The disk is an overlay of the image's: a rebuilt image would boot a file system neither is.
      const image = await readVmImage(rec.image);
      if (image.id !== rec.imageId) {
        throw new DriverError(`VM ${rec.name} was made from an earlier build of the VM image ${rec.image} (${rec.imageId}, now ${image.id}); its disk cannot boot on the new one: remove the node from the spec and add it back, or mk delete the cluster`);
      }
      const net = await this.layout.readCluster(rec.cluster);
      if (!net) throw new DriverError(`cluster ${rec.cluster} has no VM network record (${this.layout.clusterFile(rec.cluster)})`);
      const chosen = await this.chooseAccel();
      const start = async (accel: Accel): Promise<void> => {
        const argv = qemuArgv({ name: rec.name, cpus: rec.cpus, memoryMiB: rec.memoryMiB, accel, mac: rec.mac, cidrAddress: cidrAddress(rec.address, net.subnet), mcast: net.mcast, sshPort: rec.sshPort, apiServerPort: rec.apiServerPort, files: f });
        await writeFile(f.console, '', { mode: 0o600 });
        this.log('qemu start', { node: rec.name, accel });
        await runProgram(QEMU_BINARY, argv, signal);
      };
      if (chosen.trial) {
        // KVM is tried once per machine: a guest that does not answer under it falls back to software emulation.
        try {
          await start('kvm');
          await this.waitForSsh(rec, access, 120_000, signal);
          await this.saveKvmVerdict({ works: true, checkedAt: new Date().toISOString() });
          return;
        } catch (err) {
          signal?.throwIfAborted();
          const why = (err as Error).message;
          await endVm(f, false, signal);
          await this.saveKvmVerdict({ works: false, why, checkedAt: new Date().toISOString() });
          process.emitWarning(`KVM did not boot the VM (${why}); mk uses software emulation (TCG) on this machine from now on: VMs are several times slower. Set spec.driver.qemu.accel: kvm to insist, or delete ${this.kvmVerdictFile()} to try KVM again.`);
          this.accel = Promise.resolve({ accel: 'tcg', trial: false });
          await start('tcg');
        }
      } else {
        await start(chosen.accel);
      }
    }
    await this.waitForSsh(rec, access, this.config.bootTimeoutMs ?? 300_000, signal);
  }

  private chooseAccel(): Promise<{ accel: Accel; trial: boolean }> {
    this.accel ??= (async () => {
      const want = this.config.options.accel;
      if (want === 'tcg') return { accel: 'tcg', trial: false };
      const kvm = await kvmAccessible();
      if (want === 'kvm') {
        if (!kvm) throw new DriverError('spec.driver.qemu.accel is kvm, but /dev/kvm is missing or not readable and writable by this user (add it to the kvm group)');
        return { accel: 'kvm', trial: false };
      }
      if (!kvm) {
        process.emitWarning('no usable /dev/kvm: the qemu driver uses software emulation (TCG), several times slower than KVM');
        return { accel: 'tcg', trial: false };
      }
      const verdict = await readFile(this.kvmVerdictFile(), 'utf8').then((t) => JSON.parse(t) as KvmVerdict, () => undefined);
      if (verdict?.works === false) return { accel: 'tcg', trial: false };
      return { accel: 'kvm', trial: verdict === undefined };
    })();
    return this.accel;
  }

  private kvmVerdictFile(): string {
    return join(this.layout.root, 'kvm.json');
  }

  private async saveKvmVerdict(v: KvmVerdict): Promise<void> {
    await mkdir(this.layout.root, { recursive: true, mode: 0o700 });
    await writeFile(this.kvmVerdictFile(), JSON.stringify(v, null, 2) + '\n', { mode: 0o600 });
  }

  /** Polls ssh until the guest answers (pinned key, mk's client key); fails early when qemu is gone. */
  private async waitForSsh(rec: NodeRecord, access: ClusterAccess, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const f = this.files(rec);
    const auth = await loadAuth({ identityFiles: [this.layout.clientKey(rec.cluster)], named: true, agent: undefined, home: homedir() });
    const endpoint: Endpoint = { alias: '127.0.0.1', hostname: '127.0.0.1', port: rec.sshPort, user: 'root', identityFiles: [] };
    const started = Date.now();
    let last = '';
    while (Date.now() - started < timeoutMs) {
      signal?.throwIfAborted();
      if ((await runningPid(f.pidfile, f.disk)) === undefined) {
        throw new DriverError(`VM ${rec.name} stopped while booting; its console (${f.console}) ends with:\n${await consoleTail(f.console)}`);
      }
      try {
        const conn = await SshConnection.open({ name: rec.name, endpoint, auth, check: (e, k) => access.pins.check(e, k), timeouts: { ...DEFAULT_TIMEOUTS, connectMs: 10_000 } });
        conn.close();
        this.log('qemu node answers ssh', { node: rec.name, ms: Date.now() - started });
        return;
      } catch (err) {
        last = (err as Error).message;
        // A key that does not match is never retried away.
        if (/host key/i.test(last) && /CHANGED|no host key/i.test(last)) throw err;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    throw new DriverError(`VM ${rec.name} did not answer ssh on 127.0.0.1:${rec.sshPort} within ${Math.round(timeoutMs / 1000)} s (last: ${last}); its console (${f.console}) ends with:\n${await consoleTail(f.console)}`);
  }

  private clusterAccess(cluster: string): ClusterAccess {
    let a = this.access.get(cluster);
    if (!a) {
      const pins = new PinnedHostKeys(this.layout, cluster, this.log);
      const pool = new ConnectionPool({
        options: { user: 'root', identityFile: this.layout.clientKey(cluster), useAgent: false },
        timeouts: { ...DEFAULT_TIMEOUTS },
        home: homedir(),
        sshConfig: false,
        agentSocket: undefined,
        knownHosts: pins,
        log: this.log,
      });
      a = { pins, pool, remote: new Remote(pool, false, this.log) };
      this.access.set(cluster, a);
    }
    return a;
  }

  private closeAccess(cluster: string): void {
    this.access.get(cluster)?.pool.close();
    this.access.delete(cluster);
  }
}

/** known_hosts for VMs: each forwarded port has exactly the host key mk generated for its VM. */
class PinnedHostKeys extends KnownHosts {
  private readonly keys = new Map<number, { node: string; key: Buffer }>();

  constructor(
    private readonly layout: Layout,
    private readonly cluster: string,
    log: SshLog,
  ) {
    super({ file: '/dev/null', home: homedir(), pinned: undefined, trustOnFirstUse: false, log });
  }

  async pin(rec: NodeRecord): Promise<void> {
    const priv = await readFile(this.layout.nodeFile(rec.cluster, rec.name, 'host_ed25519'), 'utf8');
    const parsed = ssh2.utils.parseKey(priv);
    if (parsed instanceof Error) throw new DriverError(`host key of VM ${rec.name}: ${parsed.message}`);
    this.keys.set(rec.sshPort, { node: rec.name, key: parsed.getPublicSSH() });
  }

  forget(port: number | undefined): void {
    if (port !== undefined) this.keys.delete(port);
  }

  /** Before each connection: the keys of every VM of the cluster on record now. */
  override async load(): Promise<void> {
    for (const r of (await this.layout.nodes(this.cluster)).records) await this.pin(r);
  }

  override flush(): Promise<void> {
    return Promise.resolve();
  }

  override check(e: Endpoint, key: Buffer): string | undefined {
    const want = this.keys.get(e.port);
    if (!want) return `no host key of mk's VMs is pinned for 127.0.0.1:${e.port}; refusing to connect`;
    if (key.equals(want.key)) return undefined;
    return `host key of VM ${want.node} (127.0.0.1:${e.port}) has CHANGED: it presented ${fingerprint(key)}, mk made ${fingerprint(want.key)}. Something else answers on that port; refusing to connect`;
  }
}

async function consoleTail(file: string, lines = 15): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const tail = text.split('\n').filter((l) => l.trim() !== '').slice(-lines);
  return tail.length > 0 ? tail.map((l) => `  ${l}`).join('\n') : '  (nothing: the kernel printed nothing)';
}
