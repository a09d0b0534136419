// The Docker driver against the real engine and the locally built node image (scripts/build-node-image.sh).
// Everything is created under a unique cluster name and removed by label in afterAll.
import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract } from 'tar-stream';
import Dockerode from 'dockerode';
import { afterAll, describe, expect, it } from 'vitest';
import { DockerDriver } from '../../src/drivers/docker/driver.js';
import { nodeContainerOptions, varVolumeOptions } from '../../src/drivers/docker/container-spec.js';
import { readFileIfExists, resolveDockerEndpoint } from '../../src/drivers/docker/endpoint.js';
import type { NodeCreateRequest, ObservedNode } from '../../src/drivers/types.js';
import type { DesiredNode, Role } from '../../src/spec/types.js';
import { AbortedError, CommandError } from '../../src/errors.js';
import { NodeImageError } from '../../src/drivers/errors.js';

const IMAGE = 'mk.local/node:dev';
const cluster = `t${randomBytes(4).toString('hex')}`;
const clusterLabel = `mk.dev/cluster=${cluster}`;

const endpoint = resolveDockerEndpoint({ options: {}, env: process.env, homeDir: homedir(), readFile: readFileIfExists });
const docker = new Dockerode(endpoint.dockerOptions);
const logLines: Array<{ msg: string; ctx?: Record<string, unknown> }> = [];
const driver = new DockerDriver({ docker, options: { privileged: false }, version: 'test', log: (msg, ctx) => logLines.push({ msg, ...(ctx ? { ctx } : {}) }) });

function desired(pool: string, ordinal: number, role: Role): DesiredNode {
  return { name: `${cluster}-${pool}-${ordinal}`, cluster, pool, ordinal, role, labels: {}, taints: [] };
}
const cp: NodeCreateRequest = { node: desired('cp', 1, 'control-plane'), image: IMAGE, configHash: 'hash-cp', apiServerPort: 0 };
const worker: NodeCreateRequest = { node: desired('w', 1, 'worker'), image: IMAGE, configHash: 'hash-w' };

async function labelled(): Promise<{ containers: number; volumes: number; networks: number }> {
  const filters = { label: [clusterLabel] };
  const [containers, volumes, networks] = await Promise.all([
    docker.listContainers({ all: true, filters }),
    docker.listVolumes({ filters }),
    docker.listNetworks({ filters }),
  ]);
  return { containers: containers.length, volumes: (volumes.Volumes ?? []).length, networks: networks.length };
}

async function systemdState(node: string, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const r = await driver.node(cluster, node).exec(['systemctl', 'is-system-running', '--wait']);
    last = r.stdout.trim();
    if (last === 'running' || last === 'degraded') return last;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return last;
}

// The node image is built by test/integration/global-setup.ts.

afterAll(async () => {
  const filters = { label: [clusterLabel] };
  for (const c of await docker.listContainers({ all: true, filters })) await docker.getContainer(c.Id).remove({ force: true });
  for (const v of (await docker.listVolumes({ filters })).Volumes ?? []) await docker.getVolume(v.Name).remove();
  for (const n of await docker.listNetworks({ filters })) await docker.getNetwork(n.Id).remove();
  expect(await labelled()).toEqual({ containers: 0, volumes: 0, networks: 0 });
});

describe('DockerDriver (real engine)', () => {
  let cpNode: ObservedNode;
  let workerNode: ObservedNode;

  it('creates one labelled network with a free subnet, idempotently', async () => {
    const first = await driver.ensureNetwork({ cluster });
    const second = await driver.ensureNetwork({ cluster });
    expect(second).toEqual(first);
    expect(first.name).toBe(`mk-${cluster}`);
    expect(first.subnet).toMatch(/^172\.(2[89]|3[01])\.\d+\.0\/24$/);
    const others = (await docker.listNetworks()).filter((n) => n.Id !== first.id);
    const otherSubnets = others.flatMap((n) => (n.IPAM?.Config ?? []).map((c) => c.Subnet));
    expect(otherSubnets).not.toContain(first.subnet);
    const inspect = (await docker.getNetwork(first.id).inspect()) as Dockerode.NetworkInspectInfo;
    expect(inspect.Labels).toMatchObject({ 'mk.dev/cluster': cluster, 'mk.dev/component': 'network' });
  });

  it('creates a control plane and a worker (in parallel) with static addresses', async () => {
    const started = Date.now();
    [cpNode, workerNode] = await Promise.all([driver.createNode(cp), driver.createNode(worker)]);
    console.log(`create+start of 2 nodes in parallel: ${Date.now() - started} ms`);
    expect(cpNode.state).toBe('running');
    expect(workerNode.state).toBe('running');
    const addresses = [cpNode.address, workerNode.address].sort();
    const net = (await driver.observe(cluster)).network!;
    const prefix = net.subnet!.replace(/\.0\/24$/, '.');
    expect(addresses).toEqual([`${prefix}2`, `${prefix}3`]);
    expect(cpNode.apiServerPort).toBeGreaterThan(0);
    expect(workerNode.apiServerPort).toBeUndefined();
  });

  it('observe finds both nodes by label, with addresses, the published API port, image and config hash', async () => {
    const observed = await driver.observe(cluster);
    expect(observed.name).toBe(cluster);
    expect(observed.network?.name).toBe(`mk-${cluster}`);
    expect(observed.nodes.map((n) => n.name)).toEqual([cp.node.name, worker.node.name]);
    const [c, w] = observed.nodes;
    expect(c).toMatchObject({ role: 'control-plane', pool: 'cp', ordinal: 1, state: 'running', image: IMAGE, configHash: 'hash-cp', address: cpNode.address, apiServerPort: cpNode.apiServerPort });
    expect(w).toMatchObject({ role: 'worker', pool: 'w', ordinal: 1, state: 'running', image: IMAGE, configHash: 'hash-w', address: workerNode.address });
    expect(observed.orphanVolumes).toEqual([]);
    // The published port really is on 127.0.0.1 only.
    const info = await docker.getContainer(c!.id).inspect();
    expect(info.HostConfig.PortBindings).toBeDefined();
    expect(info.NetworkSettings.Ports['6443/tcp']).toEqual([{ HostIp: '127.0.0.1', HostPort: String(cpNode.apiServerPort) }]);
    // The settings systemd needs reached the engine.
    expect(info.HostConfig).toMatchObject({ CgroupnsMode: 'private', CapAdd: ['ALL'], CapDrop: ['SYS_RESOURCE'], Privileged: false, RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 1 } });
    expect((info.Config as { StopSignal?: string }).StopSignal).toBe('SIGRTMIN+3');
    expect(info.Config.Hostname).toBe(cp.node.name);
    expect(info.Mounts.find((m) => m.Destination === '/var')).toMatchObject({ Type: 'volume', Name: `${cp.node.name}-var` });
    expect(await driver.listClusters()).toContain(cluster);
  });

  it('createNode again returns the same container, no duplicate', async () => {
    const again = await driver.createNode(cp);
    expect(again.id).toBe(cpNode.id);
    const list = await docker.listContainers({ all: true, filters: { label: [clusterLabel, `mk.dev/node=${cp.node.name}`] } });
    expect(list).toHaveLength(1);
  });

  it('exec separates stdout, stderr and the exit code', async () => {
    const r = await driver.node(cluster, cp.node.name).exec(['sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(r).toEqual({ stdout: 'out\n', stderr: 'err\n', exitCode: 3 });
  });

  it('run throws CommandError with argv, exit code, output and the node', async () => {
    const argv = ['sh', '-c', 'echo broken >&2; exit 7'];
    const err = await driver.node(cluster, cp.node.name).run(argv).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect(err).toMatchObject({ argv, exitCodeOfCommand: 7, stderr: 'broken\n', where: `node ${cp.node.name}` });
    await expect(driver.node(cluster, cp.node.name).run(['true'])).resolves.toMatchObject({ exitCode: 0 });
  });

  it('delivers stdin (small and 2 MiB) and then EOF', async () => {
    const node = driver.node(cluster, worker.node.name);
    expect((await node.exec(['cat'], { stdin: 'hello\nworld' })).stdout).toBe('hello\nworld');
    const big = Buffer.alloc(2 * 1024 * 1024, 'x');
    expect((await node.exec(['wc', '-c'], { stdin: big })).stdout.trim()).toBe(String(big.length));
  });

  it('streams stdin from a stream at the command\'s pace, ends a stream the command stops reading, and fails on a broken one', async () => {
    const node = driver.node(cluster, worker.node.name);
    const size = 64 * 1024 * 1024;
    let produced = 0;
    const stream = new Readable({
      read() {
        const n = Math.min(1024 * 1024, size - produced);
        produced += n;
        this.push(n > 0 ? Buffer.alloc(n, 'y') : null);
      },
    });
    expect((await node.exec(['wc', '-c'], { stdin: stream })).stdout.trim()).toBe(String(size));
    const endless = new Readable({ read() { this.push(Buffer.alloc(64 * 1024, 'z')); } });
    const early = await node.exec(['head', '-c', '10'], { stdin: endless });
    expect(early).toMatchObject({ exitCode: 0, stdout: 'z'.repeat(10) });
    expect(endless.destroyed).toBe(true);
    const broken = new Readable({ read() { this.destroy(new Error('source broke')); } });
    await expect(node.exec(['cat'], { stdin: broken })).rejects.toThrow(/its input failed: source broke/);
  });

  it('is an image source: inspect, a registry asked without pulling, docker save as a stream', async () => {
    const source = driver.imageSource();
    const info = await source.inspect(IMAGE);
    expect(info).toMatchObject({ ref: IMAGE, id: expect.stringMatching(/^sha256:[a-f0-9]{64}$/) as unknown });
    expect(await source.inspect(`mk.test/none-${cluster}:1`)).toBeUndefined();
    expect(await source.pullable(`mk.test/none-${cluster}:1`)).toEqual(expect.any(String));
    const names: string[] = [];
    let manifest = '';
    const tar = extract();
    tar.on('entry', (header, entry, next) => {
      names.push(header.name);
      entry.on('data', (d: unknown) => {
        if (header.name === 'manifest.json') manifest += String(d);
      });
      entry.on('end', next);
    });
    await pipeline(await source.save([IMAGE]), tar);
    expect(names).toContain('manifest.json');
    expect(JSON.parse(manifest)).toEqual([expect.objectContaining({ RepoTags: [IMAGE] })]);
    await expect(source.save([`mk.test/none-${cluster}:1`]).then((s) => pipeline(s, new Writable({ write: (_c, _e, cb) => cb() })))).rejects.toThrow(/none-/);
  });

  it('passes env and user', async () => {
    const r = await driver.node(cluster, worker.node.name).exec(['sh', '-c', 'echo "$MK_TEST_VALUE"; id -u'], { env: { MK_TEST_VALUE: 'v1' }, user: 'nobody' });
    expect(r.stdout).toBe('v1\n65534\n');
  });

  it('writeFile writes content with the mode, creating parents and leaving existing parents alone', async () => {
    const node = driver.node(cluster, cp.node.name);
    const path = '/etc/mk-test/deep/secret.conf';
    await node.writeFile(path, 'token: abc\n', 0o600);
    expect((await node.run(['stat', '-c', '%a %U', path])).stdout.trim()).toBe('600 root');
    expect((await node.run(['cat', path])).stdout).toBe('token: abc\n');
    expect((await node.run(['stat', '-c', '%a', '/etc'])).stdout.trim()).toBe('755');
    await node.writeFile(path, Buffer.from('second'), 0o644);
    expect((await node.run(['sh', '-c', `stat -c %a ${path}; cat ${path}`])).stdout).toBe('644\nsecond');
    expect(JSON.stringify(logLines)).not.toContain('token: abc');
  });

  it('systemd reaches running or degraded in both nodes', async () => {
    expect(['running', 'degraded']).toContain(await systemdState(cp.node.name));
    expect(['running', 'degraded']).toContain(await systemdState(worker.node.name));
  });

  it('a stopped node is observed as stopped (address kept) and startNode starts it again', async () => {
    const started = Date.now();
    await docker.getContainer(workerNode.id).stop({ t: 30 });
    const stopMs = Date.now() - started;
    const info = await docker.getContainer(workerNode.id).inspect();
    // SIGRTMIN+3 makes systemd halt; a SIGKILL after the timeout would exit 137.
    expect(info.State.ExitCode).not.toBe(137);
    expect(stopMs).toBeLessThan(20_000);
    const stopped = (await driver.observe(cluster)).nodes.find((n) => n.name === worker.node.name)!;
    expect(stopped.state).toBe('stopped');
    expect(stopped.address).toBe(workerNode.address);
    // A stopped node still has its inspect and its console log (timestamped; systemd in this image writes nothing there) for a bug report.
    const report = Object.fromEntries((await driver.nodeReport(cluster, worker.node.name)).map((f) => [f.name, f.content]));
    expect(Object.keys(report).sort()).toEqual(['container.log', 'inspect.json']);
    expect(JSON.parse(report['inspect.json']!)).toMatchObject({ Id: workerNode.id, State: { Status: 'exited' } });
    expect(report['container.log']).toMatch(/^(?:(?:\d{4}-\d\d-\d\dT[\d:.]+Z .*)?\n)+$|^\(empty: /);
    await driver.startNode(cluster, worker.node.name);
    await driver.startNode(cluster, worker.node.name); // already running: a no-op
    const again = (await driver.observe(cluster)).nodes.find((n) => n.name === worker.node.name)!;
    expect(again.state).toBe('running');
    expect(again.address).toBe(workerNode.address);
    expect(['running', 'degraded']).toContain(await systemdState(worker.node.name));
  });

  it('createNode starts a stopped node instead of duplicating it', async () => {
    await docker.getContainer(workerNode.id).stop({ t: 30 });
    const node = await driver.createNode(worker);
    expect(node.id).toBe(workerNode.id);
    expect(node.state).toBe('running');
  });

  it('createNode starts a container a killed run left in "created"', async () => {
    const extra: NodeCreateRequest = { node: desired('w', 2, 'worker'), image: IMAGE, configHash: 'hash-w' };
    const net = (await driver.observe(cluster)).network!;
    await docker.createVolume(varVolumeOptions(extra, 'test'));
    const created = await docker.createContainer(
      nodeContainerOptions({ request: extra, network: net.name, privileged: false, mountLibModules: false, kmsgDevice: false, createdBy: 'test' }),
    );
    expect((await driver.observe(cluster)).nodes.find((n) => n.name === extra.node.name)?.state).toBe('created');
    const node = await driver.createNode(extra);
    expect(node.id).toBe(created.id);
    expect(node.state).toBe('running');
    await driver.removeNode(cluster, extra.node.name);
  });

  it('exec refuses to start after an abort', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(driver.node(cluster, cp.node.name).exec(['true'], { signal: ac.signal })).rejects.toBeInstanceOf(AbortedError);
    await expect(driver.observe(cluster, ac.signal)).rejects.toBeInstanceOf(AbortedError);
  });

  it('names the image and the way out when the image is missing and cannot be pulled', async () => {
    const missing: NodeCreateRequest = { node: desired('x', 1, 'worker'), image: 'mk.invalid/no-such-node:0', configHash: 'h' };
    const err = await driver.createNode(missing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeImageError);
    expect((err as Error).message).toMatch(/^node image mk\.invalid\/no-such-node:0 is not on the Docker engine and could not be pulled: /);
    expect((err as Error).message).toContain('docker pull mk.invalid/no-such-node:0 where a registry is reachable, or docker load -i FILE');
    expect((err as Error).message).not.toMatch(/npm run|scripts\//);
    expect((await driver.observe(cluster)).nodes.map((n) => n.name)).not.toContain(missing.node.name);
  });

  it('removeNode removes the container and its volume, and tolerates a second call', async () => {
    await driver.removeNode(cluster, worker.node.name);
    await driver.removeNode(cluster, worker.node.name);
    const observed = await driver.observe(cluster);
    expect(observed.nodes.map((n) => n.name)).toEqual([cp.node.name]);
    expect(observed.orphanVolumes).toEqual([]);
    const volumes = await docker.listVolumes({ filters: { label: [clusterLabel, `mk.dev/node=${worker.node.name}`] } });
    expect(volumes.Volumes ?? []).toHaveLength(0);
  });

  it('detects an orphan volume and removes it', async () => {
    const orphan: NodeCreateRequest = { node: desired('w', 9, 'worker'), image: IMAGE, configHash: 'h' };
    const name = varVolumeOptions(orphan, 'test').Name!;
    await docker.createVolume(varVolumeOptions(orphan, 'test'));
    expect((await driver.observe(cluster)).orphanVolumes).toEqual([name]);
    await driver.removeVolume(cluster, name);
    await driver.removeVolume(cluster, name); // already gone
    expect((await driver.observe(cluster)).orphanVolumes).toEqual([]);
    await expect(driver.removeVolume(`${cluster}-other`, `${cp.node.name}-var`)).rejects.toThrow(/not labelled for cluster/);
  });

  it('logs Docker calls with container ids', () => {
    expect(logLines.some((l) => l.msg === 'docker createContainer' && typeof l.ctx?.container === 'string')).toBe(true);
    expect(logLines.some((l) => l.msg === 'docker exec' && l.ctx?.container === cpNode.id)).toBe(true);
    expect(JSON.stringify(logLines)).not.toContain('v1'); // env values are never logged
  });

  it('removes the last node and the network; everything labelled is gone', async () => {
    await driver.removeNode(cluster, cp.node.name);
    await driver.removeNetwork(cluster);
    await driver.removeNetwork(cluster);
    const observed = await driver.observe(cluster);
    expect(observed).toEqual({ name: cluster, nodes: [], orphanVolumes: [] });
    expect(await labelled()).toEqual({ containers: 0, volumes: 0, networks: 0 });
    expect(await driver.listClusters()).not.toContain(cluster);
  });
});
