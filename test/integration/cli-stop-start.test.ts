// mk stop / start / ssh / delete --all through the CLI against the real Docker engine, on clusters
// without Kubernetes (bootstrap: none; test/e2e/mk-lifecycle.test.ts does the same on a kubeadm cluster).
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Background, mk as runMk, type Run } from '../helpers/cli.js';
import { labelled, removeLabelled, TEST_IMAGE, testEnv, uniqueClusterName, writeSpec, type TestEnv } from './helpers.js';
import { scopedDocker } from './scoped-docker.js';

const execFileP = promisify(execFile);

/** Per node: state, address on the cluster network, published API port. */
async function nodes(cluster: string): Promise<Record<string, { state: string; address: string; port?: number }>> {
  const { containers } = await labelled(cluster);
  return Object.fromEntries(
    containers.map((c) => [
      c.Labels['mk.dev/node']!,
      {
        state: c.State,
        address: Object.values(c.NetworkSettings.Networks)[0]?.IPAMConfig?.IPv4Address ?? '',
        ...(c.Ports.find((p) => p.PrivatePort === 6443)?.PublicPort ? { port: c.Ports.find((p) => p.PrivatePort === 6443)!.PublicPort } : {}),
      },
    ]),
  );
}

describe('mk stop, start and ssh on Docker', () => {
  let t: TestEnv;
  const name = uniqueClusterName('ss');
  let file: string;
  const mk = (...args: string[]): Promise<Run> => runMk(args, t.env);

  beforeAll(async () => {
    t = await testEnv();
    file = await writeSpec(t.dir, name, 2);
    const r = await mk('apply', '-f', file);
    expect(r.code, r.output).toBe(0);
  });
  afterAll(async () => {
    await removeLabelled(name);
    await t.cleanup();
  });

  it('stop stops every node (workers first) and keeps containers, volumes, addresses; status says so', async () => {
    const before = await nodes(name);
    const r = await mk('stop', name);
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toContain(`< stop node ${name}-w-1 (worker)  (mk stop)`);
    const stopped = r.stdout.split('\n').filter((l) => l.startsWith('✓ stop node')).map((l) => l.split(' ')[3]);
    expect(stopped.slice(0, 2).sort()).toEqual([`${name}-w-1`, `${name}-w-2`]);
    expect(stopped[2]).toBe(`${name}-cp-1`);
    expect(r.stdout).toContain(`cluster "${name}" is stopped; mk start ${name} brings it back`);
    const after = await nodes(name);
    expect(Object.values(after).map((n) => n.state)).toEqual(['exited', 'exited', 'exited']);
    expect(Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v.address]))).toEqual(Object.fromEntries(Object.entries(before).map(([k, v]) => [k, v.address])));
    expect((await labelled(name)).volumes).toHaveLength(3);

    const status = await mk('status', name);
    expect(status.code, status.output).toBe(5);
    expect(status.stdout).toMatch(new RegExp(`^ {2}stopped by mk stop at \\S+: mk start ${name} brings it back$`, 'm'));
    const again = await mk('stop', name);
    expect(again.code, again.output).toBe(0);
    expect(again.stdout).toContain(`cluster "${name}" is stopped already: no node runs`);
    const ssh = await mk('ssh', name, '--', 'true');
    expect(ssh.code).toBe(1);
    expect(ssh.stderr).toContain(`no control plane of cluster "${name}" runs`);
  });

  it('mk watch leaves a stopped cluster alone and says so once; plan warns', async () => {
    const watch = new Background(['watch', '-f', file, '--interval', '1s'], t.env);
    try {
      await watch.waitFor(/was stopped by mk stop at \S+: mk start \S+ \(or mk apply\) starts it; mk watch leaves it alone/, 30_000);
      // Three drift checks later: still stopped, said once.
      await new Promise((r) => setTimeout(r, 3500));
      expect(watch.output.match(/was stopped by mk stop/g)).toHaveLength(1);
      expect(Object.values(await nodes(name)).map((n) => n.state)).toEqual(['exited', 'exited', 'exited']);
    } finally {
      watch.child.kill('SIGINT');
      await watch.exited;
    }
    const plan = await mk('plan', '-f', file);
    expect(plan.code).toBe(2);
    expect(plan.stderr).toContain(`warning: cluster "${name}" was stopped by mk stop at`);
    expect(plan.stdout).toContain(`> start node ${name}-cp-1 (control plane)`);
  });

  it('start brings the same nodes back: same addresses and API port; the record is gone', async () => {
    const before = await nodes(name);
    const r = await mk('start', name);
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toContain(`cluster "${name}" was stopped by mk stop at`);
    expect(r.stdout).toContain(`✓ start node ${name}-cp-1 (control plane)`);
    const after = await nodes(name);
    expect(Object.values(after).map((n) => n.state)).toEqual(['running', 'running', 'running']);
    expect(Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v.address]))).toEqual(Object.fromEntries(Object.entries(before).map(([k, v]) => [k, v.address])));
    expect(after[`${name}-cp-1`]?.port).toBeGreaterThan(0);
    expect((await readdir(join(t.home, 'clusters', name))).includes('stopped.json')).toBe(false);
    const status = await mk('status', name);
    expect(status.code, status.output).toBe(0);
    expect(status.stdout).toContain(`127.0.0.1:${after[`${name}-cp-1`]!.port}`);
  });

  it('the API port picked at creation is the container\'s own: a restart by hand keeps it', async () => {
    const port = (await nodes(name))[`${name}-cp-1`]!.port;
    await execFileP('docker', ['restart', '-t', '1', `${name}-cp-1`]);
    expect((await nodes(name))[`${name}-cp-1`]!.port).toBe(port);
  });

  it('mk ssh -- CMD runs on the first control plane (or NODE) with stdin passed and its exit code', async () => {
    const host = await mk('ssh', name, '--', 'hostname');
    expect(host.code, host.output).toBe(0);
    expect(host.stdout).toBe(`${name}-cp-1\n`);
    const code = await mk('ssh', name, 'w-2', '--', 'sh', '-c', 'echo out; echo err >&2; exit 7');
    expect([code.code, code.stdout, code.stderr]).toEqual([7, 'out\n', 'err\n']);
    const piped = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = execFile(process.execPath, [join(import.meta.dirname, '../../bin/mk.js'), 'ssh', name, `${name}-w-1`, '--', 'sh', '-c', 'read a; echo "got $a"; cat'], { env: t.env }, (_err, stdout) =>
        resolve({ code: child.exitCode, stdout }),
      );
      child.stdin!.end('line one\nline two\n');
    });
    expect(piped).toEqual({ code: 0, stdout: 'got line one\nline two\n' });
    const noDash = await mk('ssh', name, 'w-1', 'ls');
    expect(noDash.code).toBe(1);
    expect(noDash.stderr).toContain('put the command after --: mk ssh NAME [NODE] -- ls');
  });

  it('mk ssh with a terminal: a login shell in a pseudo-terminal of the user\'s size', async () => {
    const mkBin = join(import.meta.dirname, '../../bin/mk.js');
    // script(1) gives mk a terminal; the shell's answers come back through it.
    const run = new Promise<string>((resolve, reject) => {
      const child = execFile('script', ['-qec', `stty cols 91 rows 33; ${process.execPath} ${mkBin} ssh ${name} w-1`, '/dev/null'], { env: t.env, timeout: 30_000 }, (err, stdout) =>
        err && child.exitCode !== 5 ? reject(err) : resolve(`${stdout}\nexit ${child.exitCode}`),
      );
      setTimeout(() => child.stdin!.write('tty; stty size; echo "term=$TERM"\r'), 1500);
      setTimeout(() => child.stdin!.end('exit 5\r'), 3000);
    });
    const out = await run;
    expect(out).toMatch(/\/dev\/pts\/\d+/);
    expect(out).toContain('33 91');
    expect(out).toContain('term=');
    expect(out).toMatch(/exit 5$/);
  });
});

describe('mk delete --all', () => {
  let t: TestEnv;
  const prefix = uniqueClusterName('da');
  const names = [`${prefix}a`, `${prefix}b`];
  const stray = `${prefix}a-stray`;

  beforeAll(async () => {
    t = await testEnv();
    for (const n of names) {
      const r = await runMk(['apply', '-f', await writeSpec(t.dir, n, 0)], t.env);
      expect(r.code, r.output).toBe(0);
    }
    // Not mk's: a container named like the cluster's nodes, without mk's labels.
    await execFileP('docker', ['create', '--name', stray, TEST_IMAGE]);
  });
  afterAll(async () => {
    await execFileP('docker', ['rm', '-f', stray]).catch(() => undefined);
    for (const n of names) await removeLabelled(n);
    await t.cleanup();
  });

  it('prints every plan first, then deletes each cluster as mk delete NAME does; what mk does not own stays', async () => {
    // This engine may hold other tests' clusters: mk sees only this test's (scoped-docker.ts).
    const engine = await scopedDocker(t.dir, prefix);
    try {
      const env = { ...t.env, DOCKER_HOST: engine.host };
      const r = await runMk(['delete', '--all'], env);
      expect(r.code, r.output).toBe(0);
      expect(r.stdout).toContain(`deleting 2 clusters: ${names.join(', ')}`);
      const lines = r.stdout.split('\n');
      const plans = names.map((n) => lines.indexOf(`Plan for cluster "${n}":`));
      const firstStep = lines.findIndex((l) => l.startsWith('✓'));
      expect(plans.every((i) => i >= 0 && i < firstStep)).toBe(true);
      expect(lines.filter((l) => l.startsWith('✓ remove node')).sort()).toEqual(names.map((n) => expect.stringContaining(`✓ remove node ${n}-cp-1`)));
      for (const n of names) expect(await labelled(n)).toEqual({ containers: [], volumes: [], networks: [] });
      expect(await readdir(join(t.home, 'clusters')).catch(() => [])).toEqual([]);
      expect((await execFileP('docker', ['inspect', '-f', '{{.Name}}', stray])).stdout.trim()).toBe(`/${stray}`);

      const again = await runMk(['delete', '--all'], env);
      expect(again.code, again.output).toBe(0);
      expect(again.stdout).toContain('no clusters: nothing to delete');
    } finally {
      await engine.close();
    }
  });

  it('--all with a name or -f is refused', async () => {
    const r = await runMk(['delete', '--all', names[0]!], t.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('one of them');
  });
});
