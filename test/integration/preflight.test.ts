// The host preflight for real: the limit reader against fake /proc files, the Docker driver's host
// facts from the real engine, and the mk CLI refusing (before anything is created) when MK_HOST_PROC
// points at limits that are too low.
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerDriver } from '../../src/drivers/docker/driver.js';
import { missingCapabilities, readInotify } from '../../src/drivers/host-facts.js';
import { mk } from '../helpers/cli.js';
import { labelled, removeLabelled, specYaml, testEnv, uniqueClusterName, type TestEnv } from './helpers.js';

interface FakeProcess {
  uid: number;
  /** Watches on each inotify descriptor. */
  inotify?: number[];
  /** Other descriptors (a file, a socket). */
  other?: number;
  capBnd?: string;
}

/** A /proc with the given inotify limits and processes (fd symlinks, fdinfo, status), as the kernel lays it out. */
async function fakeProc(root: string, limits: { instances?: number; watches?: number }, processes: Record<number, FakeProcess>): Promise<string> {
  await rm(root, { recursive: true, force: true });
  await mkdir(join(root, 'sys/fs/inotify'), { recursive: true });
  await mkdir(join(root, 'sys/kernel'), { recursive: true });
  if (limits.instances !== undefined) await writeFile(join(root, 'sys/fs/inotify/max_user_instances'), `${limits.instances}\n`);
  if (limits.watches !== undefined) await writeFile(join(root, 'sys/fs/inotify/max_user_watches'), `${limits.watches}\n`);
  await writeFile(join(root, 'sys/kernel/cap_last_cap'), '40\n');
  for (const [pid, p] of Object.entries(processes)) {
    const dir = join(root, pid);
    await mkdir(join(dir, 'fd'), { recursive: true });
    await mkdir(join(dir, 'fdinfo'), { recursive: true });
    await writeFile(join(dir, 'status'), `Name:\tfake\nUid:\t${p.uid}\t${p.uid}\t${p.uid}\t${p.uid}\nCapBnd:\t${p.capBnd ?? '000001ffffffffff'}\n`);
    let fd = 3;
    for (let i = 0; i < (p.other ?? 0); i++, fd++) await symlink(i % 2 ? 'socket:[1234]' : '/dev/null', join(dir, 'fd', String(fd)));
    for (const watches of p.inotify ?? []) {
      await symlink('anon_inode:inotify', join(dir, 'fd', String(fd)));
      const lines = Array.from({ length: watches }, (_, w) => `inotify wd:${w + 1} ino:${w + 100} sdev:3a mask:fce ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:0\n`);
      await writeFile(join(dir, 'fdinfo', String(fd)), `pos:\t0\nflags:\t02004000\nmnt_id:\t15\n${lines.join('')}`);
      fd++;
    }
  }
  return root;
}

describe('the limit reader against fake /proc files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mk-it-proc-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads both limits, and counts the instances and watches of one user's processes only", async () => {
    const root = await fakeProc(join(dir, 'a'), { instances: 128, watches: 8192 }, {
      1: { uid: 0, inotify: [10, 2], other: 5 },
      42: { uid: 0, inotify: [1], other: 1 },
      77: { uid: 1000, inotify: [50, 50, 50] },
      90: { uid: 0, other: 3 },
    });
    expect(await readInotify(root, 0)).toEqual({ maxUserInstances: 128, maxUserWatches: 8192, uid: 0, instancesInUse: 3, watchesInUse: 13, unreadable: 0 });
    expect(await readInotify(root, 1000)).toEqual({ maxUserInstances: 128, maxUserWatches: 8192, uid: 1000, instancesInUse: 3, watchesInUse: 150, unreadable: 0 });
  });

  it('no limit files (no inotify, or not Linux): nothing', async () => {
    expect(await readInotify(await fakeProc(join(dir, 'b'), { instances: 128 }, {}), 0)).toBeUndefined();
    expect(await readInotify(join(dir, 'nowhere'), 0)).toBeUndefined();
  });

  it("the engine's missing capabilities, from its pid file and bounding set", async () => {
    // The sandbox's engine: everything but CAP_SYS_RESOURCE (bit 24).
    const root = await fakeProc(join(dir, 'c'), { instances: 128, watches: 8192 }, { 2530: { uid: 0, capBnd: '000001fffeffffff' }, 2531: { uid: 0 } });
    await writeFile(join(dir, 'docker.pid'), '2530');
    expect(await missingCapabilities(root, join(dir, 'docker.pid'))).toEqual(['CAP_SYS_RESOURCE']);
    await writeFile(join(dir, 'docker.pid'), '2531');
    expect(await missingCapabilities(root, join(dir, 'docker.pid'))).toEqual([]);
    expect(await missingCapabilities(root, join(dir, 'no.pid'))).toBeUndefined();
  });

  it("the Docker driver's host facts: the engine's, with the limits read from the proc root it is given", async () => {
    const root = await fakeProc(join(dir, 'd'), { instances: 128, watches: 8192 }, { 1: { uid: 0, inotify: [4, 4] } });
    const facts = await new DockerDriver({ options: { privileged: false }, procRoot: root }).hostFacts();
    expect(facts.inotify).toEqual({ maxUserInstances: 128, maxUserWatches: 8192, uid: 0, instancesInUse: 2, watchesInUse: 8, unreadable: 0 });
    expect(facts.memoryCgroup).toBe(true);
    expect(facts.disk?.path).toMatch(/docker/);
    expect(facts.disk?.freeBytes).toBeGreaterThan(0);
  });
});

describe('mk refuses to bring up nodes the host would kill', () => {
  let t: TestEnv;
  const name = uniqueClusterName('pf');
  let file: string;
  let tight: NodeJS.ProcessEnv;

  beforeAll(async () => {
    t = await testEnv();
    file = join(t.dir, `${name}.yaml`);
    // A kubeadm cluster (1 control plane, 2 workers: about 72 instances) on a host whose root holds 100 of 128.
    await writeFile(file, specYaml(name, 2, { bootstrap: 'kubeadm' }));
    tight = { ...t.env, MK_HOST_PROC: await fakeProc(join(t.dir, 'proc'), { instances: 128, watches: 524_288 }, { 1: { uid: 0, inotify: Array(100).fill(1) } }) };
  });
  afterAll(async () => {
    await removeLabelled(name);
    await t.cleanup();
  });

  it('apply exits 1 with the sysctl lines to run, and creates nothing', async () => {
    const r = await mk(['apply', '-f', file], tight);
    expect(r.code, r.output).toBe(1);
    expect(r.stderr).toContain(`refusing to bring up 3 nodes of cluster ${name}: this host would kill them (preflight)`);
    expect(r.stderr).toContain("inotify instances: 100 of 128 (fs.inotify.max_user_instances) are held by root's processes");
    expect(r.stderr).toContain('    sysctl -w fs.inotify.max_user_instances=512\n');
    expect(r.stderr).toContain("    echo 'fs.inotify.max_user_instances = 512' > /etc/sysctl.d/99-mk-inotify.conf\n");
    expect(r.stderr).toContain('--skip-preflight');
    expect(await labelled(name)).toEqual({ containers: [], volumes: [], networks: [] });
  });

  it('plan refuses the same way; with --skip-preflight it shows the plan and the problem as a warning', async () => {
    const refused = await mk(['plan', '-f', file], tight);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('sysctl -w fs.inotify.max_user_instances=512');
    const skipped = await mk(['plan', '-f', file, '--skip-preflight'], tight);
    expect(skipped.code, skipped.output).toBe(2);
    expect(skipped.output).toContain("warning: preflight skipped (--skip-preflight): inotify instances: 100 of 128 (fs.inotify.max_user_instances) are held by root's processes");
    expect(skipped.stdout).toContain(`+ create node ${name}-cp-1 (control plane)`);
  });

  it('--skip-preflight on apply brings the nodes up anyway; then a plan that brings none up is not refused', async () => {
    const none = join(t.dir, 'none.yaml');
    // Nodes without Kubernetes: the test image boots them in a second.
    await writeFile(none, specYaml(name, 0));
    const r = await mk(['apply', '-f', none, '--skip-preflight'], { ...tight, MK_HOST_PROC: await fakeProc(join(t.dir, 'full'), { instances: 1, watches: 1 }, {}) });
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain('warning: preflight skipped (--skip-preflight): inotify instances');
    expect((await labelled(name)).containers.map((c) => c.State)).toEqual(['running']);
    const again = await mk(['apply', '-f', none], { ...tight, MK_HOST_PROC: join(t.dir, 'full') });
    expect(again.code, again.output).toBe(0);
    expect(again.stdout).toContain(`No changes. Cluster "${name}" is in sync`);
  });
});
