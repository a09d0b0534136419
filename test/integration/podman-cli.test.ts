// mk on podman (driver: podman): the real CLI against podman's Docker-compatible API service
// (`bash scripts/start-podman.sh`, which .ci/run starts) and the locally built node image, copied
// from the Docker engine into podman's store when podman lacks it. A 2-node `bootstrap: none`
// cluster: systemd boots, the nodes ping each other, status, a no-op re-apply, stop and a scale-up
// while stopped (addresses are mk's, since podman reports none for a stopped container), delete.
// Without the service this file is skipped locally and fails under CI.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mk } from '../helpers/cli.js';
import { ensurePodmanImage, onPodman, podman, PODMAN_SOCKET, podmanReachable, removeFromPodman } from '../helpers/podman.js';
import { clusterYaml, controlPlanes, podmanDriver, workers } from '../helpers/spec.js';
import { labelled as dockerLabelled, TEST_IMAGE, testEnv, uniqueClusterName, type TestEnv } from './helpers.js';

const run = promisify(execFile);
const reachable = await podmanReachable();

/** ICMP echo with perl-base (the node image has no ping): exit 0 and "reply from ADDR" when ADDR answers. */
const PING = await readFile(new URL('./fixtures/icmp-ping.pl', import.meta.url), 'utf8');

describe.skipIf(!reachable)(`mk on podman (${PODMAN_SOCKET})`, () => {
  let t: TestEnv;
  const name = uniqueClusterName('pod');
  const file = () => `${t.dir}/${name}.yaml`;
  const spec = (workerCount: number) => clusterYaml({ name, bootstrap: 'none', driver: podmanDriver(TEST_IMAGE), nodes: [controlPlanes(1), workers(workerCount)] });
  const cp = `${name}-cp-1`;
  const addresses = async (): Promise<Record<string, { state: string; address?: string }>> => {
    const r = await mk(['-o', 'json', 'status', name], t.env);
    const parsed = JSON.parse(r.stdout) as { clusters: Array<{ nodes: Array<{ name: string; state: string; address?: string }> }> };
    return Object.fromEntries(parsed.clusters[0]!.nodes.map((n) => [n.name, { state: n.state, ...(n.address ? { address: n.address } : {}) }]));
  };
  const ping = (from: string, to: string) => mk(['ssh', name, from, '--', 'perl', '-e', PING, to], t.env);

  beforeAll(async () => {
    t = await testEnv();
    const t0 = Date.now();
    await ensurePodmanImage(TEST_IMAGE);
    console.log(`node image in podman's store after ${Date.now() - t0} ms`);
    await writeFile(file(), spec(1));
  }, 120_000);
  afterAll(async () => {
    await removeFromPodman(name);
    await t?.cleanup();
  });

  it('apply makes 2 nodes on podman, on a subnet of podman\'s pool, and nothing on the Docker engine', async () => {
    const r = await mk(['apply', '-f', file()], t.env);
    expect(r.code, r.output).toBe(0);
    console.log(`apply of 2 nodes: ${r.ms} ms`);
    const { containers, volumes, networks } = await onPodman(name);
    expect(containers.map((c) => [c.Names[0], c.State])).toEqual([
      [`/${cp}`, 'running'],
      [`/${name}-w-1`, 'running'],
    ]);
    expect(volumes).toEqual([`${cp}-var`, `${name}-w-1-var`]);
    expect(networks.map((n) => n.Name)).toEqual([`mk-${name}`]);
    expect(networks[0]!.IPAM?.Config?.[0]?.Subnet).toMatch(/^10\.89\.\d+\.0\/24$/);
    const onDocker = await dockerLabelled(name);
    expect(onDocker).toEqual({ containers: [], volumes: [], networks: [] });
  });

  it('the nodes boot with systemd and ping each other', async () => {
    for (const node of [cp, `${name}-w-1`]) {
      const r = await mk(['ssh', name, node, '--', 'systemctl', 'is-system-running', '--wait'], t.env);
      expect(['running', 'degraded'], `${node}: ${r.output}`).toContain(r.stdout.trim());
    }
    const nodes = await addresses();
    const there = await ping(`${name}-w-1`, nodes[cp]!.address!);
    expect(there.code, there.output).toBe(0);
    expect(there.stdout).toContain(`reply from ${nodes[cp]!.address}`);
    // The ping can fail: an address of the subnet that no node holds answers nothing.
    const nobody = nodes[cp]!.address!.replace(/\.\d+$/, '.250');
    expect((await ping(`${name}-w-1`, nobody)).code).toBe(1);
  });

  it('status shows both nodes running with their addresses; list finds the cluster', async () => {
    const r = await mk(['status', name], t.env);
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`${cp}\\s+control-plane\\s+running\\s+10\\.89\\.\\d+\\.\\d+\\s+127\\.0\\.0\\.1:\\d+`));
    expect(r.stdout).toMatch(new RegExp(`${name}-w-1\\s+worker\\s+running\\s+10\\.89\\.\\d+\\.\\d+`));
    expect(r.stdout).toContain('in sync with the last applied spec');
    // mk list finds it on podman's service, like Docker's clusters on the Docker engine.
    const list = await mk(['-o', 'name', 'list'], t.env);
    expect(list.stdout.split('\n'), list.output).toContain(name);
  });

  it('a re-apply changes nothing: same containers, not restarted', async () => {
    const started = async () => Promise.all((await onPodman(name)).containers.map(async (c) => [c.Id, c.State, (await podman.getContainer(c.Id).inspect()).State.StartedAt]));
    const before = await started();
    const r = await mk(['apply', '-f', file()], t.env);
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toContain(`No changes. Cluster "${name}" is in sync`);
    console.log(`no-op apply: ${r.ms} ms`);
    expect(await started()).toEqual(before);
  });

  it('stop keeps the addresses; a worker added while stopped gets a free one, and start brings all back', async () => {
    const running = await addresses();
    const stop = await mk(['stop', name], t.env);
    expect(stop.code, stop.output).toBe(0);
    console.log(`stop of 2 nodes: ${stop.ms} ms`);
    expect((await onPodman(name)).containers.every((c) => c.State === 'exited')).toBe(true);
    // podman lists a stopped container without an address: mk reads the one it gave the node.
    const stopped = await addresses();
    expect(Object.values(stopped).map((n) => n.state)).toEqual(['stopped', 'stopped']);
    expect(Object.values(stopped).map((n) => n.address)).toEqual(Object.values(running).map((n) => n.address));

    await writeFile(file(), spec(2));
    const up = await mk(['apply', '-f', file()], t.env);
    expect(up.code, up.output).toBe(0);
    console.log(`apply (start 2 stopped nodes, create 1): ${up.ms} ms`);
    const after = await addresses();
    expect(Object.values(after).map((n) => n.state)).toEqual(['running', 'running', 'running']);
    expect(after[cp]!.address).toBe(running[cp]!.address);
    expect(new Set(Object.values(after).map((n) => n.address)).size).toBe(3);
    const there = await ping(`${name}-w-2`, after[cp]!.address!);
    expect(there.code, there.output).toBe(0);
  });

  it('delete leaves no container, volume, network or route behind', async () => {
    const subnet = (await onPodman(name)).networks[0]!.IPAM!.Config![0]!.Subnet!;
    const r = await mk(['delete', name], t.env);
    expect(r.code, r.output).toBe(0);
    console.log(`delete of 3 nodes: ${r.ms} ms`);
    expect(await onPodman(name)).toEqual({ containers: [], volumes: [], networks: [] });
    expect((await run('ip', ['-4', 'route'])).stdout).not.toContain(subnet);
    // Rules netavark made for the network (podman may leave some behind: issue 19).
    const rules = await run('iptables-save', []).then(
      (o) => o.stdout,
      () => '', // no iptables-save here: not checked
    );
    expect(rules).not.toContain(subnet);
  });
});
