// mk on qemu (driver: qemu): the real CLI, real VMs of the VM node image (npm run vm-image) under
// software emulation (TCG: this machine's /dev/kvm hangs guests, see test/helpers/spec.ts). A
// 2-node `bootstrap: none` cluster: boot, ssh with the host key mk made and pinned (a changed key
// is refused), node-to-node ping on the cluster network, status, list, a no-op re-apply, a VM killed
// by hand restarted, stop and start, delete leaving no process, overlay or socket behind.
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ed25519KeyPair } from '../../src/drivers/ssh/keygen.js';
import { mk } from '../helpers/cli.js';
import { qemuProcesses, testVmImage } from '../helpers/qemu.js';
import { clusterYaml, controlPlanes, qemuDriver, workers } from '../helpers/spec.js';
import { testEnv, uniqueClusterName, type TestEnv } from './helpers.js';

const image = await testVmImage();
const PING = await readFile(new URL('./fixtures/icmp-ping.pl', import.meta.url), 'utf8');

describe.skipIf(!image)(`mk on qemu (${image ?? 'no VM image'})`, () => {
  let t: TestEnv;
  const name = uniqueClusterName('vm');
  const file = () => `${t.dir}/${name}.yaml`;
  const cp = `${name}-cp-1`;
  const w = `${name}-w-1`;
  const machines = () => join(t.home, 'machines', 'qemu', name);
  const status = async (): Promise<Record<string, { state: string; address?: string; apiServer?: string }>> => {
    const r = await mk(['-o', 'json', 'status', name], t.env);
    const parsed = JSON.parse(r.stdout) as { clusters: Array<{ nodes: Array<{ name: string; state: string; address?: string; apiServer?: string }> }> };
    return Object.fromEntries(parsed.clusters[0]!.nodes.map((n) => [n.name, n]));
  };
  const pidOf = async (node: string) => Number((await readFile(join(machines(), 'nodes', node, 'qemu.pid'), 'utf8')).trim());

  beforeAll(async () => {
    t = await testEnv();
    await writeFile(file(), clusterYaml({ name, bootstrap: 'none', driver: qemuDriver(image!, { memory: 1024, cpus: 1 }), nodes: [controlPlanes(1), workers(1)] }));
  });
  afterAll(async () => {
    await mk(['delete', name], t.env);
    for (const pid of await qemuProcesses(machines())) process.kill(pid, 'SIGKILL');
    await t?.cleanup();
  });

  it('apply boots 2 VMs that answer ssh', async () => {
    const r = await mk(['apply', '-f', file()], t.env);
    expect(r.code, r.output).toBe(0);
    console.log(`apply of 2 VMs (TCG): ${r.ms} ms`);
    expect(await qemuProcesses(machines())).toHaveLength(2);
    const nodes = await status();
    expect(nodes[cp]).toMatchObject({ state: 'running', address: expect.stringMatching(/^10\.213\.\d+\.\d+$/) as unknown });
    expect(nodes[w]).toMatchObject({ state: 'running', address: expect.stringMatching(/^10\.213\.\d+\.\d+$/) as unknown });
    // Created at the same time, each with an address of its own.
    expect(nodes[w]!.address).not.toBe(nodes[cp]!.address);
  });

  it('each VM has its name and address, systemd running, and the nodes ping each other over the cluster network', async () => {
    const nodes = await status();
    for (const node of [cp, w]) {
      const host = await mk(['ssh', name, node, '--', 'hostname'], t.env);
      expect(host.stdout.trim(), host.output).toBe(node);
      const addr = await mk(['ssh', name, node, '--', 'ip', '-4', '-o', 'addr', 'show'], t.env);
      expect(addr.stdout).toContain(`${nodes[node]!.address}/24`);
      const sys = await mk(['ssh', name, node, '--', 'systemctl', 'is-system-running', '--wait'], t.env);
      expect(['running', 'degraded'], `${node}: ${sys.output}`).toContain(sys.stdout.trim());
    }
    const there = await mk(['ssh', name, w, '--', 'perl', '-e', PING, nodes[cp]!.address!], t.env);
    expect(there.code, there.output).toBe(0);
    expect(there.stdout).toContain(`reply from ${nodes[cp]!.address}`);
    const nobody = nodes[cp]!.address!.replace(/\.\d+$/, '.250');
    expect((await mk(['ssh', name, w, '--', 'perl', '-e', PING, nobody], t.env)).code).toBe(1);
  });

  it('the host key is the one mk made: another key on record is refused', async () => {
    const keyFile = join(machines(), 'nodes', w, 'host_ed25519');
    const mine = await readFile(keyFile, 'utf8');
    await writeFile(keyFile, ed25519KeyPair('another').private, { mode: 0o600 });
    try {
      const r = await mk(['ssh', name, w, '--', 'true'], t.env);
      expect(r.code).not.toBe(0);
      expect(r.output).toMatch(/host key of VM .* has CHANGED/);
    } finally {
      await writeFile(keyFile, mine, { mode: 0o600 });
    }
    expect((await mk(['ssh', name, w, '--', 'true'], t.env)).code).toBe(0);
  });

  it('status shows both VMs with the API forward of the control plane; list finds the cluster; a re-apply changes nothing', async () => {
    const r = await mk(['status', name], t.env);
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`${cp}\\s+control-plane\\s+running\\s+10\\.213\\.\\d+\\.\\d+\\s+127\\.0\\.0\\.1:\\d+`));
    expect(r.stdout).toContain('in sync with the last applied spec');
    const list = await mk(['-o', 'name', 'list'], t.env);
    expect(list.stdout.split('\n'), list.output).toContain(name);
    const before = [await pidOf(cp), await pidOf(w)];
    const again = await mk(['apply', '-f', file()], t.env);
    expect(again.code, again.output).toBe(0);
    expect(again.stdout).toContain(`No changes. Cluster "${name}" is in sync`);
    console.log(`no-op apply: ${again.ms} ms`);
    expect([await pidOf(cp), await pidOf(w)]).toEqual(before);
  });

  it('a VM killed by hand is planned back and restarted by apply', async () => {
    const pid = await pidOf(w);
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    expect((await status())[w]!.state).toBe('stopped');
    const plan = await mk(['plan', '-f', file()], t.env);
    expect(plan.code, plan.output).toBe(2);
    expect(plan.stdout).toContain(`start node ${w}`);
    const r = await mk(['apply', '-f', file()], t.env);
    expect(r.code, r.output).toBe(0);
    console.log(`apply restarting a killed VM: ${r.ms} ms`);
    expect((await status())[w]!.state).toBe('running');
    expect((await mk(['ssh', name, w, '--', 'true'], t.env)).code).toBe(0);
  });

  it('stop powers the VMs down and keeps them; start brings them back with the same addresses', async () => {
    const before = await status();
    const stop = await mk(['stop', name], t.env);
    expect(stop.code, stop.output).toBe(0);
    console.log(`stop of 2 VMs: ${stop.ms} ms`);
    expect(await qemuProcesses(machines())).toEqual([]);
    expect(Object.values(await status()).map((n) => n.state)).toEqual(['stopped', 'stopped']);
    const start = await mk(['start', name], t.env);
    expect(start.code, start.output).toBe(0);
    console.log(`start of 2 VMs: ${start.ms} ms`);
    const after = await status();
    expect(Object.values(after).map((n) => [n.state, n.address])).toEqual(Object.values(before).map((n) => ['running', n.address]));
  });

  it('delete leaves no qemu process, overlay, socket or folder behind', async () => {
    const r = await mk(['delete', name], t.env);
    expect(r.code, r.output).toBe(0);
    console.log(`delete of 2 VMs: ${r.ms} ms`);
    expect(await qemuProcesses(machines())).toEqual([]);
    expect(await readdir(machines()).catch(() => 'gone')).toBe('gone');
    const list = await mk(['-o', 'name', 'list'], t.env);
    expect(list.stdout.split('\n')).not.toContain(name);
  });
});
