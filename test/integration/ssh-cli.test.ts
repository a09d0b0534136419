// The real mk CLI (bin/mk.js; `npm test` builds dist/ first) against
// real sshd hosts: plan, apply, in sync, status, scale down, delete, with bootstrap: none (the hosts'
// kube binaries are stand-ins; test/e2e/ssh-cluster.test.ts bootstraps real Kubernetes over ssh).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshDriver } from '../../src/drivers/ssh/driver.js';
import { mk as runMk, type Run } from '../helpers/cli.js';
import { clusterYaml, controlPlanes, sshDriver, workers } from '../helpers/spec.js';
import { TestBed, desiredNode, docker } from './ssh-testbed.js';

const bed = new TestBed();
const name = `sshcli${bed.run}`;
let spec = '';
let env: NodeJS.ProcessEnv = {};
let knownHosts = '';

const mk = (...args: string[]): Promise<Run> => runMk(args, env);

function yaml(hosts: { cp: string; workers: string[] }): string {
  const nodes = [controlPlanes([hosts.cp])];
  if (hosts.workers.length > 0) nodes.push(workers(hosts.workers.map((address) => ({ address, labels: { tier: 'web' } }))));
  const timeouts = { connect: 3, keepaliveInterval: 1, keepaliveCountMax: 2 };
  return clusterYaml({ name, bootstrap: 'none', driver: sshDriver({ identityFile: bed.key, knownHostsFile: knownHosts, timeouts }), nodes });
}

const marker = (container: string) => docker('exec', container, 'sh', '-c', 'cat /etc/mk/node.json 2>/dev/null || echo none');

beforeAll(async () => {
  await bed.setup(2);
  await bed.fakeKubeBinaries(bed.hosts[0]!.container);
  await bed.fakeKubeBinaries(bed.hosts[1]!.container);
  knownHosts = await bed.knownHosts('known_hosts', bed.hosts.map((h): [string, string] => [h.ip, h.container]));
  const home = join(bed.dir, 'home');
  await mkdir(home, { recursive: true });
  env = { ...process.env, HOME: home, MK_HOME: join(bed.dir, 'mk-home'), NO_COLOR: '1', CI: 'true' };
  delete env.SSH_AUTH_SOCK;
  spec = join(bed.dir, 'cluster.yaml');
}, 600_000);

afterAll(async () => {
  await bed.cleanup();
});

describe('mk over ssh', () => {
  it('plan shows what each host has and needs; apply prepares the hosts; then in sync', async () => {
    const [cp, w] = bed.hosts as [{ ip: string; container: string }, { ip: string; container: string }];
    await writeFile(spec, yaml({ cp: cp.ip, workers: [w.ip] }));
    const plan = await mk('plan', '-f', spec);
    expect(plan.code, plan.output).toBe(2);
    expect(plan.output).toContain(`create node ${name}-cp-1 (control plane)`);
    expect(plan.output).toMatch(/debian 12 x86_64 systemd; containerd 1\.7\.24, kubeadm v1\.36\.3, kubelet v1\.36\.3; kubelet not running; not joined; ready/);

    const t0 = Date.now();
    const apply = await mk('apply', '-f', spec);
    const applyMs = Date.now() - t0;
    expect(apply.code, apply.output).toBe(0);
    expect(apply.output).not.toMatch(/kubeadm (init|join|reset)/);
    expect(JSON.parse(await marker(cp.container))).toMatchObject({ cluster: name, node: `${name}-cp-1`, role: 'control-plane' });
    expect(JSON.parse(await marker(w.container))).toMatchObject({ cluster: name, node: `${name}-w-1`, role: 'worker' });
    // The host locks were released at the end of the run.
    expect(await docker('exec', cp.container, 'sh', '-c', `test -e /run/lock/mk/${name}.lock && echo held || echo free`)).toBe('free');

    const again = await mk('plan', '-f', spec);
    expect(again.code, again.output).toBe(0);
    const status = await mk('status', name, '-f', spec);
    expect(status.code, status.output).toBe(0);
    expect(status.output).toMatch(new RegExp(`${name}-w-1\\s+worker\\s+running\\s+${w.ip.replace(/\./g, '\\.')}`));
    // Without a name, status lists the ssh cluster too (from the local host inventory), also when no Docker engine answers.
    const all = await runMk(['status'], { ...env, DOCKER_HOST: 'tcp://127.0.0.1:1' });
    expect(all.code, all.output).toBe(0);
    expect(all.stdout).toMatch(new RegExp(`^cluster ${name}$`, 'm'));
    expect(all.stdout).toMatch(new RegExp(`${name}-w-1\\s+worker\\s+running\\s+${w.ip.replace(/\./g, '\\.')}`));
    expect(all.stderr).toContain('warning: Docker clusters are not listed: the Docker engine could not be asked');
    console.log(`mk apply over ssh (2 hosts, prepare only): ${applyMs} ms`);
  });

  it('mk ssh: a command as the login user, with its exit code; mk stop and mk start over ssh', async () => {
    const who = await mk('ssh', name, '--', 'id', '-un');
    expect(who.code, who.output).toBe(0);
    expect(who.stdout).toBe('mk\n');
    const code = await mk('ssh', name, 'w-1', '--', 'sh', '-c', 'hostname -I >/dev/null; echo "$0" >&2; exit 4', 'arg with spaces');
    expect([code.code, code.stderr]).toEqual([4, 'arg with spaces\n']);

    // The hosts have no kubelet unit (bootstrap: none): nothing of Kubernetes to stop, the machines stay.
    const stop = await mk('stop', name);
    expect(stop.code, stop.output).toBe(0);
    expect(stop.stdout).toContain(`✓ stop node ${name}-cp-1 (control plane)`);
    expect((await mk('status', name)).stdout).toMatch(/^ {2}stopped by mk stop at /m);
    const start = await mk('start', name);
    expect(start.code, start.output).toBe(0);
    expect(start.stdout).toContain(`cluster "${name}" was stopped by mk stop at`);
    expect((await mk('status', name)).stdout).not.toContain('stopped by mk stop');
  });

  it('a host removed from the spec loses its marker and nothing else', async () => {
    const [cp, w] = bed.hosts as [{ ip: string; container: string }, { ip: string; container: string }];
    await writeFile(spec, yaml({ cp: cp.ip, workers: [] }));
    const plan = await mk('plan', '-f', spec);
    expect(plan.code, plan.output).toBe(2);
    expect(plan.output).toContain(`remove node ${name}-w-1`);
    const apply = await mk('apply', '-f', spec);
    expect(apply.code, apply.output).toBe(0);
    expect(await marker(w.container)).toBe('none');
    expect(await docker('exec', w.container, 'sh', '-c', 'test -x /usr/local/bin/kubeadm && echo kept')).toBe('kept');
    expect((await mk('plan', '-f', spec)).code).toBe(0);
  });

  it('an unreachable host is named, reported and left alone', async () => {
    const [cp, w] = bed.hosts as [{ ip: string; container: string }, { ip: string; container: string }];
    await writeFile(spec, yaml({ cp: cp.ip, workers: [w.ip] }));
    await docker('network', 'disconnect', bed.netA, cp.container);
    try {
      const t0 = Date.now();
      const plan = await mk('plan', '-f', spec);
      const ms = Date.now() - t0;
      expect(plan.output).toMatch(new RegExp(`${name}-cp-1 is unreachable and left alone this run: ssh to ${name}-cp-1 \\(mk@${cp.ip.replace(/\./g, '\\.')}\\): host unreachable`));
      expect(plan.output).toContain(`create node ${name}-w-1`);
      expect(ms).toBeLessThan(8_000);
      console.log(`mk plan with an unreachable host: ${ms} ms (spec.driver.ssh.timeouts.connect: 3)`);
    } finally {
      await docker('network', 'connect', bed.netA, cp.container);
    }
  });

  it('a host locked by another mk process: delete fails naming the holder, touching nothing', async () => {
    const [cp] = bed.hosts as [{ ip: string; container: string }];
    const holder = new SshDriver({
      cluster: name,
      options: { user: 'root', identityFile: bed.key, knownHostsFile: knownHosts },
      nodes: [desiredNode(name, `${name}-cp-1`, cp.ip, 'control-plane')],
      cri: 'containerd',
      home: bed.dir,
      mkHome: join(bed.dir, 'holder-home'),
      sshConfig: false,
    });
    try {
      await holder.node(name, `${name}-cp-1`).run(['true']);
      const before = await marker(cp.container);
      const del = await mk('delete', '-f', spec);
      expect(del.code, del.output).not.toBe(0);
      expect(del.output).toMatch(new RegExp(`host ${name}-cp-1 \\(${cp.ip.replace(/\./g, '\\.')}\\) is being worked on by another mk \\(pid ${process.pid} on `));
      expect(await marker(cp.container)).toBe(before);
    } finally {
      await holder.close();
    }
  });

  it('delete removes every marker', async () => {
    const [cp] = bed.hosts as [{ ip: string; container: string }];
    const del = await mk('delete', '-f', spec);
    expect(del.code, del.output).toBe(0);
    expect(await marker(cp.container)).toBe('none');
  });
});

