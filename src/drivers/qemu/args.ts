// qemu's command line for one node, and the pure facts around it: the node's MAC and the cluster's
// multicast group. Pure: the driver supplies paths, ports and the acceleration it chose.
import { createHash } from 'node:crypto';

export type Accel = 'kvm' | 'tcg';

export interface VmFiles {
  kernel: string;
  initrd: string;
  disk: string;
  pidfile: string;
  qmp: string;
  console: string;
  hostKey: string;
  authorizedKeys: string;
}

export interface VmArgs {
  name: string;
  cpus: number;
  memoryMiB: number;
  accel: Accel;
  /** The cluster network: this node's MAC and address/prefix, and the group every node of the cluster joins. */
  mac: string;
  cidrAddress: string;
  mcast: string;
  sshPort: number;
  apiServerPort?: number | undefined;
  files: VmFiles;
}

/**
 * Two NICs: user-mode networking (DHCP, the guest's way out, and 127.0.0.1 forwards to its sshd and
 * API server), and the cluster network: a multicast socket on the loopback interface, so VMs of one
 * cluster reach each other without privileges. The guest reads its hostname and cluster address
 * from the kernel command line and its keys from fw_cfg (scripts/build-vm-image.sh).
 */
export function qemuArgv(a: VmArgs): string[] {
  const fwd = [`hostfwd=tcp:127.0.0.1:${a.sshPort}-:22`, ...(a.apiServerPort ? [`hostfwd=tcp:127.0.0.1:${a.apiServerPort}-:6443`] : [])];
  const f = a.files;
  return [
    '-name', a.name,
    '-nodefaults',
    '-machine', 'q35',
    ...(a.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,tb-size=256', '-cpu', 'max']),
    '-smp', String(a.cpus),
    '-m', String(a.memoryMiB),
    '-kernel', f.kernel,
    '-initrd', f.initrd,
    '-append', `root=/dev/vda rw console=ttyS0 mk.hostname=${a.name} mk.net=${a.mac},${a.cidrAddress}`,
    '-drive', `file=${f.disk},if=virtio,format=qcow2,cache=unsafe,discard=unmap`,
    '-netdev', `user,id=nat,${fwd.join(',')}`,
    '-device', 'virtio-net-pci,netdev=nat',
    '-netdev', `socket,id=cluster,mcast=${a.mcast},localaddr=127.0.0.1`,
    '-device', `virtio-net-pci,netdev=cluster,mac=${a.mac}`,
    '-fw_cfg', `name=opt/mk/ssh_host_ed25519_key,file=${f.hostKey}`,
    '-fw_cfg', `name=opt/mk/authorized_keys,file=${f.authorizedKeys}`,
    '-device', 'virtio-rng-pci',
    '-display', 'none',
    '-serial', `file:${f.console}`,
    '-qmp', `unix:${f.qmp},server=on,wait=off`,
    '-pidfile', f.pidfile,
    '-daemonize',
  ];
}

/** A locally administered MAC (52:54:00 is qemu's prefix) derived from the cluster and node names. */
export function nodeMac(cluster: string, node: string): string {
  const h = createHash('sha256').update(`${cluster}/${node}`).digest();
  return ['52', '54', '00', ...[h[0]!, h[1]!, h[2]!].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/**
 * The cluster's multicast group and port, from its name: 239.x.y.z (administratively scoped) and a
 * port of 20000-59999, moved to the next candidate while `taken` (other clusters') has it.
 */
export function clusterMcast(cluster: string, taken: readonly string[]): string {
  for (let i = 0; ; i++) {
    const h = createHash('sha256').update(`${cluster}#${i}`).digest();
    const group = `239.${h[0]! % 255}.${h[1]!}.${(h[2]! % 254) + 1}`;
    const port = 20000 + (h.readUInt16BE(3) % 40000);
    const candidate = `${group}:${port}`;
    if (!taken.some((t) => t === candidate || t.endsWith(`:${port}`))) return candidate;
  }
}

/** The node's address with the subnet's prefix, as the guest sets it ("10.213.0.2/24"). */
export function cidrAddress(address: string, subnet: string): string {
  return `${address}/${subnet.split('/')[1] ?? '24'}`;
}
