// The qemu driver's pure parts (its command line, MAC, multicast group), its spec, and its
// bookkeeping on disk with no VM started (qemu itself runs in test/integration/qemu-cli.test.ts).
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { capabilitiesOf } from '../../src/drivers/capabilities.js';
import { driverForName, listAllClusters } from '../../src/drivers/index.js';
import { cidrAddress, clusterMcast, nodeMac, qemuArgv } from '../../src/drivers/qemu/args.js';
import { QemuDriver } from '../../src/drivers/qemu/driver.js';
import { nodeConfigHash } from '../../src/infrastructure/index.js';
import { expandNodes } from '../../src/spec/nodes.js';
import { loadSpecs } from '../../src/spec/load.js';
import { SpecError } from '../../src/errors.js';

const spec = (driver: string): string => `apiVersion: mk.dev/v1alpha1
kind: Cluster
metadata:
  name: vms
spec:
  driver:
    name: qemu
${driver}
  nodes:
    - { name: cp, role: control-plane, count: 1 }
    - { name: w, role: worker, count: 2 }
`;

const load = async (text: string) => (await loadSpecs('-', { stdin: () => Promise.resolve(text) }))[0]!.cluster;

let home: string;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'mk-qemu-'));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('qemu command line', () => {
  const files = { kernel: '/i/vmlinuz', initrd: '/i/initrd.img', disk: '/n/disk.qcow2', pidfile: '/n/qemu.pid', qmp: '/n/qmp.sock', console: '/n/console.log', hostKey: '/n/host_ed25519', authorizedKeys: '/n/authorized_keys' };
  const base = { name: 'vms-cp-1', cpus: 2, memoryMiB: 2048, mac: '52:54:00:aa:bb:cc', cidrAddress: '10.213.0.2/24', mcast: '239.1.2.3:31000', sshPort: 40022, files };

  it('forwards ssh (and the API server of a control plane) on 127.0.0.1 only, and joins the cluster network by multicast on loopback', () => {
    const argv = qemuArgv({ ...base, accel: 'tcg', apiServerPort: 46443 });
    const nat = argv[argv.indexOf('-netdev') + 1]!;
    expect(nat).toBe('user,id=nat,hostfwd=tcp:127.0.0.1:40022-:22,hostfwd=tcp:127.0.0.1:46443-:6443');
    expect(argv).toContain('socket,id=cluster,mcast=239.1.2.3:31000,localaddr=127.0.0.1');
    expect(argv).toContain('virtio-net-pci,netdev=cluster,mac=52:54:00:aa:bb:cc');
    expect(argv[argv.indexOf('-append') + 1]).toBe('root=/dev/vda rw console=ttyS0 mk.hostname=vms-cp-1 mk.net=52:54:00:aa:bb:cc,10.213.0.2/24');
    expect(argv).toContain('name=opt/mk/ssh_host_ed25519_key,file=/n/host_ed25519');
    expect(argv.slice(argv.indexOf('-accel'), argv.indexOf('-accel') + 4)).toEqual(['-accel', 'tcg,tb-size=256', '-cpu', 'max']);
    expect(argv.at(-1)).toBe('-daemonize');
  });

  it('a worker gets no API forward; KVM uses the host CPU', () => {
    const argv = qemuArgv({ ...base, accel: 'kvm' });
    expect(argv.join(' ')).not.toContain(':6443');
    expect(argv.slice(argv.indexOf('-accel'), argv.indexOf('-accel') + 4)).toEqual(['-accel', 'kvm', '-cpu', 'host']);
  });

  it('MACs are stable, locally administered and differ per node', () => {
    const a = nodeMac('vms', 'vms-cp-1');
    expect(a).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    expect(nodeMac('vms', 'vms-cp-1')).toBe(a);
    expect(nodeMac('vms', 'vms-w-1')).not.toBe(a);
    expect(nodeMac('other', 'vms-cp-1')).not.toBe(a);
  });

  it("a cluster's multicast group is administratively scoped and moves off one (or a port) another cluster has", () => {
    const first = clusterMcast('vms', []);
    expect(first).toMatch(/^239\.\d+\.\d+\.\d+:\d+$/);
    const port = Number(first.split(':')[1]);
    expect(port).toBeGreaterThanOrEqual(20000);
    expect(port).toBeLessThan(60000);
    const moved = clusterMcast('vms', [first]);
    expect(moved).not.toBe(first);
    expect(moved.split(':')[1]).not.toBe(String(port));
    expect(cidrAddress('10.213.0.7', '10.213.0.0/24')).toBe('10.213.0.7/24');
  });
});

describe('qemu specs', () => {
  it('default to 2 CPUs, 2048 MiB, 20 GiB, auto acceleration and the image npm run vm-image writes', async () => {
    const saved = process.env.MK_VM_CACHE;
    process.env.MK_VM_CACHE = '/cache/vm';
    try {
      const c = await load(spec(''));
      expect(c.spec.driver).toEqual({ name: 'qemu', qemu: { image: `/cache/vm/node-${c.spec.kubernetesVersion}`, cpus: 2, memory: 2048, disk: 20, accel: 'auto' } });
      const caps = capabilitiesOf(c);
      expect(caps).toMatchObject({ containerNodes: false, loadBalancer: false, autoAddressPool: false, nodesOutliveCluster: false, network: { name: 'mk-vms' } });
      expect(caps.apiServerUrl({ name: 'x', apiServerPort: 40001 } as never)).toBe('https://127.0.0.1:40001');
    } finally {
      if (saved === undefined) delete process.env.MK_VM_CACHE;
      else process.env.MK_VM_CACHE = saved;
    }
  });

  it('a change of memory makes new nodes (config hash), a change of labels does not', async () => {
    const a = await load(spec('    qemu: { memory: 2048, image: /img }'));
    const b = await load(spec('    qemu: { memory: 4096, image: /img }'));
    const node = expandNodes(a)[0]!;
    expect(nodeConfigHash(a, node)).not.toBe(nodeConfigHash(b, node));
    expect(nodeConfigHash(a, { ...node, labels: { x: 'y' } })).toBe(nodeConfigHash(a, node));
  });

  it('refuse a relative image, too little memory, an unknown accelerator and a control-plane endpoint, with line:col', async () => {
    const text = spec('    qemu: { image: vm/img, memory: 256, accel: hvf }').replace('  nodes:', '  networking: { controlPlaneEndpoint: 10.0.0.9 }\n  nodes:');
    const err = await load(text).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SpecError);
    const msg = (err as Error).message;
    expect(msg).toContain('"vm/img" is not an absolute path');
    expect(msg).toMatch(/memory.*at least 1024/);
    expect(msg).toMatch(/accel.*must be one of: auto, kvm, tcg/);
    expect(msg).toContain('controlPlaneEndpoint is for the ssh driver; qemu clusters');
    expect(msg).toMatch(/-:8:20: spec.driver.qemu.image/);
  });
});

describe('qemu bookkeeping without VMs', () => {
  it('a network record and the client key (0600) make a cluster mk lists and finds by name; removing it leaves nothing', async () => {
    const driver = new QemuDriver({ options: { image: '/nonexistent', cpus: 1, memory: 1024, disk: 4, accel: 'tcg' }, mkHome: home });
    const net = await driver.ensureNetwork({ cluster: 'vms' });
    expect(net.subnet).toBe('10.213.0.0/24');
    const again = await new QemuDriver({ options: { image: '', cpus: 1, memory: 1024, disk: 4, accel: 'tcg' }, mkHome: home }).ensureNetwork({ cluster: 'vms' });
    expect(again).toEqual(net);
    const other = await driver.ensureNetwork({ cluster: 'more' });
    expect(other.subnet).toBe('10.213.1.0/24');
    expect(other.id).not.toBe(net.id);
    const key = await stat(join(home, 'machines', 'qemu', 'vms', 'id_ed25519'));
    expect(key.mode & 0o777).toBe(0o600);

    expect(await driver.listClusters()).toEqual(['more', 'vms']);
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = 'tcp://127.0.0.1:1';
    try {
      const listed = await listAllClusters({ home });
      expect(listed.names).toEqual(expect.arrayContaining(['more', 'vms']));
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
    expect((await driverForName('vms', undefined, home)).name).toBe('qemu');
    const observed = await driver.observe('vms');
    expect(observed).toMatchObject({ name: 'vms', nodes: [], network: { subnet: '10.213.0.0/24' }, orphanVolumes: [] });

    await driver.removeNetwork('vms');
    expect(await driver.listClusters()).toEqual(['more']);
  });

  it('creating a node from a missing image says how to build one, and leaves no VM record', async () => {
    const driver = new QemuDriver({ options: { image: join(home, 'no-image'), cpus: 1, memory: 1024, disk: 4, accel: 'tcg' }, mkHome: home });
    const c = await load(spec(`    qemu: { image: ${join(home, 'no-image')} }`));
    const node = expandNodes(c)[0]!;
    await expect(driver.createNode({ node, image: join(home, 'no-image'), configHash: 'h' })).rejects.toThrow(/incomplete or missing .*npm run vm-image/);
    expect((await driver.observe('vms')).nodes).toEqual([]);
  });
});
