// The whole mk CLI against the real Docker engine and the locally built node image
// (npm run node-image): create, no-op re-apply, scale, kill -9 mid-apply, lock, delete.
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireClusterLock } from '../../src/reconcile/lock.js';
import { Background, mk } from '../helpers/cli.js';
import { eventually } from '../helpers/wait.js';
import { containerNames, dockerEvents, labelled, removeLabelled, specYaml, testEnv, uniqueClusterName, writeSpec, type TestEnv } from './helpers.js';

const MUTATING = /^(create|start|stop|kill|die|destroy|restart|rename|update|pause|unpause|connect|disconnect|remove|prune)/;

describe('mk apply / plan / status / delete on Docker', () => {
  let t: TestEnv;
  const name = uniqueClusterName('lc');
  let file: string;

  beforeAll(async () => {
    t = await testEnv();
    file = await writeSpec(t.dir, name, 2);
  });
  afterAll(async () => {
    await removeLabelled(name);
    await t.cleanup();
  });

  it('plan on a new cluster shows the creations and exits 2', async () => {
    const r = await mk(['plan', '-f', file], t.env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(2);
    expect(r.stdout).toContain(`+ create node ${name}-cp-1 (control plane)`);
    expect(r.stdout).toContain(`+ create node ${name}-w-2 (worker)`);
    expect(r.stdout).not.toMatch(/kubeadm (init|join)/); // bootstrap: none
    expect(await containerNames(name)).toEqual([]);
  });

  it('apply creates a 3-node cluster: network, containers, volumes, all labelled', async () => {
    const r = await mk(['apply', '-f', file], t.env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/✓ create node/);
    const { containers, volumes, networks } = await labelled(name);
    expect(containers.map((c) => c.Names[0])).toEqual([`/${name}-cp-1`, `/${name}-w-1`, `/${name}-w-2`]);
    expect(containers.every((c) => c.State === 'running')).toBe(true);
    expect(volumes).toHaveLength(3);
    expect(networks).toHaveLength(1);
    const cp = containers.find((c) => c.Names[0] === `/${name}-cp-1`)!;
    expect(cp.Ports.some((p) => p.PrivatePort === 6443 && p.IP === '127.0.0.1' && (p.PublicPort ?? 0) > 0)).toBe(true);
  });

  it('a second apply with nothing changed says so and makes no mutating Docker call', async () => {
    const since = Date.now();
    const r = await mk(['apply', '-f', file], t.env);
    const untilTs = Date.now() + 500;
    await new Promise((r) => setTimeout(r, 600)); // let the engine deliver events up to untilTs
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`No changes. Cluster "${name}" is in sync`);
    const events = (await dockerEvents(name, since, untilTs)).filter((e) => MUTATING.test(e.Action));
    expect(events).toEqual([]);
    expect((await mk(['plan', '-f', file], t.env)).code).toBe(0);
  });

  it('status lists nodes with roles, states and addresses, as text and JSON', async () => {
    const text = await mk(['status', name], t.env);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`${name}-cp-1\\s+control-plane\\s+running\\s+\\d+\\.\\d+\\.\\d+\\.\\d+`));
    expect(text.stdout).toContain('in sync with the last applied spec');
    const json = await mk(['-o', 'json', 'status', name], t.env);
    const parsed = JSON.parse(json.stdout) as { clusters: Array<{ name: string; nodes: Array<{ name: string; role: string; address?: string }>; outOfSync: string[] }> };
    expect(parsed.clusters[0]!.nodes.map((n) => n.role)).toEqual(['control-plane', 'worker', 'worker']);
    expect(parsed.clusters[0]!.nodes.every((n) => /^\d+\.\d+\.\d+\.\d+$/.test(n.address ?? ''))).toBe(true);
    expect(parsed.clusters[0]!.outOfSync).toEqual([]);
  });

  it('scales 3 -> 5 -> 2, removing the highest ordinals first', async () => {
    await writeFile(file, specYaml(name, 4));
    const up = await mk(['apply', '-f', file], t.env);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(await containerNames(name)).toEqual([`${name}-cp-1`, `${name}-w-1`, `${name}-w-2`, `${name}-w-3`, `${name}-w-4`]);

    await writeFile(file, specYaml(name, 1));
    const down = await mk(['apply', '-f', file], t.env);
    expect(down.code, down.stdout + down.stderr).toBe(0);
    expect(down.stdout).toContain(`remove node ${name}-w-4`);
    const { containers, volumes } = await labelled(name);
    expect(containers.map((c) => c.Names[0])).toEqual([`/${name}-cp-1`, `/${name}-w-1`]);
    expect(volumes).toHaveLength(2);
  });

  it('a second apply while one holds the lock fails fast naming the holder', async () => {
    const lock = await acquireClusterLock(name, { home: t.home });
    try {
      const started = Date.now();
      const r = await mk(['apply', '-f', file], t.env);
      expect(r.code).toBe(3);
      expect(r.stderr).toContain(`pid ${process.pid}`);
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      await lock.release();
    }
  });

  it('delete removes every labelled container, volume and network, and nothing else', async () => {
    const bystander = uniqueClusterName('by');
    const other = await writeSpec(t.dir, bystander, 0);
    expect((await mk(['apply', '-f', other], t.env)).code).toBe(0);
    try {
      const r = await mk(['delete', name], t.env);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(await labelled(name)).toEqual({ containers: [], volumes: [], networks: [] });
      expect(await containerNames(bystander)).toEqual([`${bystander}-cp-1`]);
    } finally {
      await mk(['delete', bystander], t.env);
      await removeLabelled(bystander);
    }
  });
});

describe('mk apply killed with SIGKILL', () => {
  let t: TestEnv;
  const name = uniqueClusterName('kill');

  beforeAll(async () => {
    t = await testEnv();
  });
  afterAll(async () => {
    await removeLabelled(name);
    await t.cleanup();
  });

  it('converges on re-run with no duplicate or orphaned containers, volumes or networks', async () => {
    const file = await writeSpec(t.dir, name, 4);
    const first = new Background(['apply', '-f', file], t.env);
    // Kill it as soon as the first node exists: some nodes done, some in flight, some not started.
    await eventually(() => first.output, async () => (await labelled(name)).containers.length >= 1, 60_000, 100);
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');

    const again = await mk(['apply', '-f', file], t.env);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    const { containers, volumes, networks } = await labelled(name);
    expect(containers.map((c) => c.Names[0])).toEqual([`/${name}-cp-1`, `/${name}-w-1`, `/${name}-w-2`, `/${name}-w-3`, `/${name}-w-4`]);
    expect(containers.every((c) => c.State === 'running')).toBe(true);
    expect(volumes).toHaveLength(5);
    expect(networks).toHaveLength(1);
    const third = await mk(['apply', '-f', file], t.env);
    expect(third.stdout).toContain('is in sync');
  });
});
