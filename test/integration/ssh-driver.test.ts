// The ssh driver against real sshd in containers (see ssh-testbed.ts). Timings are printed for the
// issue's closing note.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshDriver } from '../../src/drivers/ssh/driver.js';
import type { SshDriverConfig } from '../../src/drivers/ssh/driver.js';
import { HostLockedError } from '../../src/drivers/errors.js';
import type { DesiredNode, SshDriverOptions } from '../../src/spec/types.js';
import { TestBed, desiredNode, docker } from './ssh-testbed.js';

const bed = new TestBed();
const CLUSTER = 'sshit';
let knownHosts = '';
const drivers: SshDriver[] = [];
const timings: Record<string, unknown> = {};

function nodes(): DesiredNode[] {
  return bed.hosts.map((h, i) => desiredNode(CLUSTER, `${CLUSTER}-w-${i + 1}`, h.ip, 'worker', i + 1));
}

function driver(options: SshDriverOptions, over: Partial<SshDriverConfig> = {}): SshDriver {
  const d = new SshDriver({
    cluster: CLUSTER,
    options: { knownHostsFile: knownHosts, identityFile: bed.key, ...options },
    nodes: over.nodes ?? nodes(),
    cri: 'containerd',
    home: bed.dir,
    mkHome: join(bed.dir, 'mk-home'),
    sshConfig: false,
    agentSocket: undefined,
    timeouts: { connectMs: 5_000, commandMs: 60_000, keepaliveIntervalMs: 1_000, keepaliveCountMax: 2 },
    ...over,
  });
  drivers.push(d);
  return d;
}

beforeAll(async () => {
  const t0 = Date.now();
  await bed.setup(3);
  await Promise.all(bed.hosts.map((h) => bed.fakeKubeBinaries(h.container)));
  knownHosts = await bed.knownHosts('known_hosts', [
    ...bed.hosts.map((h): [string, string] => [h.ip, h.container]),
    [bed.bastion.ip, bed.bastion.container],
    [bed.targetName, bed.target.container],
  ]);
  timings.testBedSetupMs = Date.now() - t0;
}, 600_000);

afterAll(async () => {
  await Promise.all(drivers.map((d) => d.close().catch(() => {})));
  console.log(`ssh driver timings: ${JSON.stringify(timings, null, 2)}`);
  await bed.cleanup();
});

describe('ssh driver on real sshd', () => {
  it('key auth as root: observes hosts without a marker as no nodes, one connection per host', async () => {
    const d = driver({ user: 'root' });
    const t0 = Date.now();
    const observed = await d.observe(CLUSTER);
    timings.firstObserve3HostsMs = Date.now() - t0;
    expect(observed.nodes).toEqual([]);
    const t1 = Date.now();
    await d.observe(CLUSTER);
    timings.secondObserve3HostsReusedMs = Date.now() - t1;
    timings.connectMsPerHost = Object.fromEntries([...d.timings].map(([n, t]) => [n, t.connectMs]));
    expect([...d.timings.keys()].sort()).toEqual(nodes().map((n) => n.name));
    // Reused: one connection per host; two marker reads and one facts run (facts are cached for the run).
    expect([...d.timings.values()].map((t) => [t.connects, t.commands])).toEqual([
      [1, 3],
      [1, 3],
      [1, 3],
    ]);
    expect(observed.hostNotes?.[`${CLUSTER}-w-1`]).toMatch(/^debian 12 x86_64 systemd; containerd 1\.7\.24, kubeadm v1\.36\.3, kubelet v1\.36\.3; kubelet not running; not joined; ready$/);
    const facts = await d.gatherFacts();
    expect(facts.get(`${CLUSTER}-w-1`)).toMatchObject({ uid: 0, init: 'systemd', os: { id: 'debian' }, joined: false, kubeletActive: false });
    expect(facts.get(`${CLUSTER}-w-1`)?.binaries.kubeadm).toBe('/usr/local/bin/kubeadm');
    await d.close();
  });

  it('an idle connection is closed and reopened on the next use', async () => {
    const d = driver({ user: 'root' }, { timeouts: { connectMs: 5_000, commandMs: 60_000, idleMs: 300, keepaliveIntervalMs: 1_000, keepaliveCountMax: 2 } });
    await d.observe(CLUSTER);
    await new Promise((r) => setTimeout(r, 800));
    await d.observe(CLUSTER);
    expect([...d.timings.values()].map((t) => t.connects)).toEqual([2, 2, 2]);
    await d.close();
  });

  it('ssh-agent auth (no identity file at all)', async () => {
    await bed.startAgent();
    const d = driver({ user: 'root', identityFile: undefined as unknown as string, useAgent: true }, { agentSocket: bed.agentSocket, home: join(bed.dir, 'empty-home') });
    const facts = await d.gatherFacts();
    expect(facts.size).toBe(3);
    // Without the agent and without keys there is no way in, and the error says so.
    const none = driver({ user: 'root', identityFile: undefined as unknown as string, useAgent: false }, { home: join(bed.dir, 'empty-home') });
    // The same failure on the three hosts: one line naming them all.
    await expect(none.observe(CLUSTER)).rejects.toThrow(new RegExp(`^3 hosts failed:\\n  ${CLUSTER}-w-1, ${CLUSTER}-w-2, ${CLUSTER}-w-3: no way to authenticate`));
    await d.close();
  });

  it('a wrong key is an authentication error naming the host, not "unreachable"', async () => {
    const missing = driver({ user: 'root', identityFile: bed.agentKey + '-missing' });
    await expect(missing.observe(CLUSTER)).rejects.toThrow(/identity file .*id_agent-missing/);
    const stranger = join(bed.dir, 'id_stranger');
    await promisify(execFile)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
    const d = driver({ user: 'root', identityFile: stranger }, { nodes: [nodes()[0]!] });
    await expect(d.observe(CLUSTER)).rejects.toThrow(new RegExp(`ssh to ${CLUSTER}-w-1 \\(root@[0-9.]+\\): authentication failed \\(tried .*id_stranger\\)`));
  });

  it('missing prerequisites are reported for every host in one error', async () => {
    const d = driver({ user: 'root' }, { cri: 'cri-o' });
    const n = nodes()[0]!;
    const err = await d.createNode({ node: n, image: '', configHash: 'h1' }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/3 hosts of cluster sshit cannot become nodes yet/);
    for (const [i, h] of bed.hosts.entries()) expect(err?.message).toContain(`${CLUSTER}-w-${i + 1} (${h.ip}): not installed: crio (cri: cri-o)`);
    await d.close();
  });

  it('sudo as a non-root user: prepare three hosts in parallel, marker 0600 root-owned, files via sftp + install, remove', async () => {
    const d = driver({ user: 'mk', sudo: true });
    const t0 = Date.now();
    const created = await Promise.all(nodes().map((n) => d.createNode({ node: n, image: '', configHash: `hash-${n.ordinal}` })));
    timings.createNode3HostsParallelMs = Date.now() - t0;
    expect(created.map((c) => [c.name, c.state, c.configHash])).toEqual(nodes().map((n) => [n.name, 'running', `hash-${n.ordinal}`]));
    const h1 = bed.hosts[0]!.container;
    expect(await docker('exec', h1, 'stat', '-c', '%a %U', '/etc/mk/node.json')).toBe('600 root');
    expect(JSON.parse(await docker('exec', h1, 'cat', '/etc/mk/node.json'))).toMatchObject({ cluster: CLUSTER, node: `${CLUSTER}-w-1`, role: 'worker' });
    const observed = await d.observe(CLUSTER);
    expect(observed.nodes.map((n) => n.name).sort()).toEqual(nodes().map((n) => n.name));
    // For a bug report: the host's facts and mk's marker.
    const report = Object.fromEntries((await d.nodeReport(CLUSTER, `${CLUSTER}-w-1`)).map((f) => [f.name, f.content]));
    expect(report['host.txt']).toMatch(new RegExp(`^mk@${bed.hosts[0]!.ip.replace(/\./g, '\\.')}\n\\S+ .* systemd; `));
    expect(JSON.parse(report['marker.json']!)).toMatchObject({ cluster: CLUSTER, node: `${CLUSTER}-w-1` });

    const handle = d.node(CLUSTER, `${CLUSTER}-w-1`);
    expect((await handle.run(['id', '-u'])).stdout.trim()).toBe('0');
    expect((await handle.run(['printf', '%s', "it's $HOME `x`"])).stdout).toBe("it's $HOME `x`");
    const secret = 'abcdef.0123456789abcdef';
    await handle.writeFile('/etc/mk/secret/join-token', secret, 0o600);
    expect(await docker('exec', h1, 'stat', '-c', '%a %U', '/etc/mk/secret/join-token')).toBe('600 root');
    expect(await docker('exec', h1, 'cat', '/etc/mk/secret/join-token')).toBe(secret);
    expect(await docker('exec', h1, 'sh', '-c', 'ls -A /home/mk | grep -c mk-upload || true')).toBe('0');
    // stdin reaches the command; env is passed
    expect((await handle.run(['cat'], { stdin: 'from stdin' })).stdout).toBe('from stdin');
    // A stream on stdin goes through sudo at the command's pace; one the command stops reading is ended.
    const size = 16 * 1024 * 1024;
    expect((await handle.run(['wc', '-c'], { stdin: Readable.from(Array.from({ length: size / 65536 }, () => Buffer.alloc(65536, 'y'))) })).stdout.trim()).toBe(String(size));
    const endless = new Readable({ read() { this.push(Buffer.alloc(65536, 'z')); } });
    expect((await handle.run(['head', '-c', '4'], { stdin: endless })).stdout).toBe('zzzz');
    expect(endless.destroyed).toBe(true);
    expect((await handle.run(['sh', '-c', 'echo "$A"'], { env: { A: 'b c' } })).stdout.trim()).toBe('b c');
    const failed = await handle.run(['false']).catch((e: Error) => e);
    expect(String(failed)).toMatch(/command failed on node sshit-w-1 \(exit 1\): false/);

    // This mk holds the three host locks until it closes.
    await d.close();
    // The inventory remembers hosts, so a host removed from the spec is still found and removed.
    const later = driver({ user: 'mk', sudo: true }, { nodes: nodes().slice(0, 2) });
    const seen = await later.observe(CLUSTER);
    expect(seen.nodes.map((n) => n.name).sort()).toEqual(nodes().map((n) => n.name));
    await later.removeNode(CLUSTER, `${CLUSTER}-w-3`);
    expect(await docker('exec', bed.hosts[2]!.container, 'sh', '-c', 'test -e /etc/mk/node.json && echo present || echo gone')).toBe('gone');
    expect((await later.observe(CLUSTER)).nodes.map((n) => n.name).sort()).toEqual([`${CLUSTER}-w-1`, `${CLUSTER}-w-2`]);
    await later.close();
    // A host of another cluster is refused.
    const other = driver({ user: 'mk', sudo: true }, { cluster: 'other', nodes: [desiredNode('other', 'other-w-1', bed.hosts[0]!.ip)] });
    await expect(other.createNode({ node: desiredNode('other', 'other-w-1', bed.hosts[0]!.ip), image: '', configHash: 'x' })).rejects.toThrow(
      /is node sshit-w-1 of cluster sshit \(\/etc\/mk\/node.json\); mk will not take it for cluster other/,
    );
    await other.close();
  });

  it('a user without passwordless sudo is reported as a missing prerequisite', async () => {
    const d = driver({ user: 'nosudo', sudo: true });
    await expect(d.createNode({ node: nodes()[0]!, image: '', configHash: 'x' })).rejects.toThrow(/sudo -n failed: the login user needs passwordless sudo/);
    await d.close();
  });

  it('the per-host lock keeps a second mk out and names the holder', async () => {
    const a = driver({ user: 'root' }, { lock: { staleMs: 30_000, refreshMs: 500 } });
    const b = driver({ user: 'root' });
    await a.node(CLUSTER, `${CLUSTER}-w-2`).run(['true']);
    const err = await b.node(CLUSTER, `${CLUSTER}-w-2`).run(['true']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostLockedError);
    expect((err as Error).message).toMatch(new RegExp(`host ${CLUSTER}-w-2 \\(.*\\) is being worked on by another mk \\(pid ${process.pid} on .*, since .*\\)`));
    expect((err as HostLockedError).exitCode).toBe(3);
    const lock = JSON.parse(await docker('exec', bed.hosts[1]!.container, 'cat', `/run/lock/mk/${CLUSTER}.lock`)) as { pid: number };
    expect(lock.pid).toBe(process.pid);
    await a.close();
    // Released at close: the next mk gets in.
    const c = driver({ user: 'root' });
    await c.node(CLUSTER, `${CLUSTER}-w-2`).run(['true']);
    await c.close();
    await b.close();
  });

  it('a lock its holder stopped refreshing (killed mk) is taken over once stale', async () => {
    const dead = driver({ user: 'root' }, { lock: { refreshMs: 3_600_000 } });
    await dead.node(CLUSTER, `${CLUSTER}-w-1`).run(['true']);
    const lines: string[] = [];
    const next = driver({ user: 'root' }, { lock: { staleMs: 1_000 }, log: (m, ctx) => lines.push(`${m} ${JSON.stringify(ctx)}`) });
    await expect(next.node(CLUSTER, `${CLUSTER}-w-1`).run(['true'])).rejects.toThrow(HostLockedError);
    await new Promise((r) => setTimeout(r, 2_100));
    const fresh = driver({ user: 'root' }, { lock: { staleMs: 1_000 }, log: (m, ctx) => lines.push(`${m} ${JSON.stringify(ctx)}`) });
    await fresh.node(CLUSTER, `${CLUSTER}-w-1`).run(['true']);
    expect(lines.some((l) => l.startsWith('ssh stale host lock taken over'))).toBe(true);
    await fresh.close();
    // The old holder's release does not remove the new holder's lock (owner token).
    await dead.close();
    await next.close();
  });

  it('reaches a host only through the jump host', async () => {
    const target = desiredNode(CLUSTER, `${CLUSTER}-cp-1`, bed.targetName, 'control-plane');
    const direct = driver({ user: 'root' }, { nodes: [target], mkHome: join(bed.dir, 'mk-home-jump') });
    const refused = await direct.observe(CLUSTER);
    expect(refused.nodes[0]).toMatchObject({ name: `${CLUSTER}-cp-1`, state: 'unreachable' });
    const lines: string[] = [];
    const behind = [target, desiredNode(CLUSTER, `${CLUSTER}-w-1`, bed.hosts[0]!.ip)];
    const d = driver({ user: 'root', bastion: { host: bed.bastion.ip, user: 'root' } }, { nodes: behind, mkHome: join(bed.dir, 'mk-home-jump'), log: (m) => lines.push(m) });
    const t0 = Date.now();
    const facts = await d.gatherFacts();
    timings.jumpConnectPlusFacts2HostsMs = Date.now() - t0;
    timings.connectThroughJumpMsPerHost = Object.fromEntries([...d.timings].map(([n, t]) => [n, t.connectMs]));
    expect(facts.get(`${CLUSTER}-cp-1`)?.init).toBe('systemd');
    expect(facts.size).toBe(2);
    // One jump connection for the run, shared by both hosts behind it.
    expect(lines.filter((l) => l === 'ssh connected to jump host')).toHaveLength(1);
    expect(lines.filter((l) => l === 'ssh connected')).toHaveLength(2);
    expect((await d.node(CLUSTER, `${CLUSTER}-cp-1`).run(['hostname'])).stdout.trim()).toBe('target');
    await d.close();
    // ~/.ssh/config's ProxyJump works the same way.
    const cfg = driver(
      { user: 'root' },
      { nodes: [target], mkHome: join(bed.dir, 'mk-home-jump'), sshConfig: `Host ${bed.targetName}\n  ProxyJump root@${bed.bastion.ip}\n` },
    );
    expect((await cfg.gatherFacts()).size).toBe(1);
    await cfg.close();
  });

  it('an unknown host is refused unless trusted on first use, which records it', async () => {
    const empty = join(bed.dir, 'kh-empty');
    await writeFile(empty, '');
    const one = [nodes()[0]!];
    const d = driver({ user: 'root', knownHostsFile: empty }, { nodes: one });
    await expect(d.observe(CLUSTER)).rejects.toThrow(new RegExp(`host ${bed.hosts[0]!.ip.replace(/\./g, '\\.')} is unknown: its key SHA256:\\S+ is not in`));
    const tofu = driver({ user: 'root', knownHostsFile: empty, trustOnFirstUse: true }, { nodes: one });
    await tofu.observe(CLUSTER);
    await tofu.close();
    expect(await readFile(empty, 'utf8')).toContain(`${bed.hosts[0]!.ip} ssh-ed25519 `);
    const again = driver({ user: 'root', knownHostsFile: empty }, { nodes: one });
    await again.observe(CLUSTER);
    await again.close();
  });

  it('a changed host key is refused naming the host and both fingerprints; pins work too', async () => {
    const h = bed.hosts[2]!;
    const one = [desiredNode(CLUSTER, `${CLUSTER}-w-3`, h.ip, 'worker', 3)];
    const old = await fingerprintOf(h.container);
    await docker('exec', h.container, 'sh', '-c', 'rm -f /etc/ssh/ssh_host_ed25519_key* && systemctl restart ssh');
    const fresh = await fingerprintOf(h.container);
    expect(fresh).not.toBe(old);
    const d = driver({ user: 'root' }, { nodes: one });
    const err = await d.observe(CLUSTER).catch((e: Error) => e);
    expect(String(err)).toContain(`host key of ${h.ip} has CHANGED: the host presented ${fresh}`);
    expect(String(err)).toContain(`has ${old} (ssh-ed25519)`);
    // TOFU never overrides a changed key.
    const tofu = driver({ user: 'root', trustOnFirstUse: true }, { nodes: one });
    await expect(tofu.observe(CLUSTER)).rejects.toThrow(/has CHANGED/);
    // A pin is the only authority when given.
    const pinned = driver({ user: 'root', hostKeys: { [h.ip]: fresh } }, { nodes: one });
    await pinned.observe(CLUSTER);
    await pinned.close();
    const wrongPin = driver({ user: 'root', hostKeys: { [h.ip]: old } }, { nodes: one });
    await expect(wrongPin.observe(CLUSTER)).rejects.toThrow(`the host presented ${fresh}, spec.driver.ssh.hostKeys pins ${old}`);
    // The new key is the expected one from now on.
    knownHosts = await bed.knownHosts('known_hosts', [
      ...bed.hosts.map((x): [string, string] => [x.ip, x.container]),
      [bed.bastion.ip, bed.bastion.container],
      [bed.targetName, bed.target.container],
    ]);
  });

  it('parallel operations on three hosts', async () => {
    const work = async (parallel: boolean): Promise<number> => {
      const d = driver({ user: 'root' });
      await d.observe(CLUSTER); // connect first: measure the commands
      const t0 = Date.now();
      const run = (n: DesiredNode) => d.node(CLUSTER, n.name).run(['sleep', '0.5']);
      if (parallel) await Promise.all(nodes().map(run));
      else for (const n of nodes()) await run(n);
      const ms = Date.now() - t0;
      timings[`${parallel ? 'parallel' : 'sequential'}3HostsSleep500Ms`] = ms;
      timings[`${parallel ? 'parallel' : 'sequential'}PerHostBusyMs`] = Object.fromEntries([...d.timings].map(([n, t]) => [n, t.busyMs]));
      await d.close();
      return ms;
    };
    const sequential = await work(false);
    const parallel = await work(true);
    timings.parallelSpeedup = Number((sequential / parallel).toFixed(2));
    expect(parallel).toBeLessThan(sequential / 2);
  });

  it('a host made unreachable mid-run fails in time with an error naming it', async () => {
    const h = bed.hosts[1]!;
    const name = `${CLUSTER}-w-2`;
    const d = driver({ user: 'root' }, { timeouts: { connectMs: 3_000, commandMs: 60_000, keepaliveIntervalMs: 500, keepaliveCountMax: 2 } });
    await d.observe(CLUSTER);
    const pending = d.node(CLUSTER, name).run(['sleep', '30']).then(
      () => undefined,
      (e: Error) => e,
    );
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    await docker('network', 'disconnect', bed.netA, h.container);
    const err = await pending;
    const ms = Date.now() - t0;
    timings.disconnectToErrorMs = ms;
    expect(String(err)).toMatch(new RegExp(`connection to ${name} \\(root@${h.ip.replace(/\./g, '\\.')}\\) lost`));
    expect(ms).toBeLessThan(6_000);
    // The next observe reports it as unreachable (not dropped) within the connect timeout.
    const t1 = Date.now();
    const observed = await d.observe(CLUSTER);
    timings.unreachableObserveMs = Date.now() - t1;
    expect(Date.now() - t1).toBeLessThan(6_000);
    expect(observed.nodes.find((n) => n.name === name)).toMatchObject({ state: 'unreachable' });
    expect(observed.nodes.find((n) => n.name === name)?.detail).toMatch(new RegExp(`${name}.*(unreachable|timed out|no answer)`));
    await d.close();
    await docker('network', 'connect', bed.netA, h.container);
  });
});

async function fingerprintOf(container: string): Promise<string> {
  const out = await docker('exec', container, 'ssh-keygen', '-lf', '/etc/ssh/ssh_host_ed25519_key.pub');
  return out.split(' ')[1]!;
}

