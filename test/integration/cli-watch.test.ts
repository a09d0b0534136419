// mk watch against the real Docker engine: reacts to a save, reports an invalid edit or a missing spec
// once, repairs drift (saying a node removed by hand is missing), timestamps its lines, stops calmly.
import { rename, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Background } from '../helpers/cli.js';
import { eventually } from '../helpers/wait.js';
import { containerNames, docker, labelled, removeLabelled, specYaml, testEnv, uniqueClusterName, writeSpec, type TestEnv } from './helpers.js';

const count = (text: string, fragment: string): number => text.split(fragment).length - 1;

describe('mk watch', () => {
  let t: TestEnv;
  const name = uniqueClusterName('w');
  let watcher: Background | undefined;

  beforeAll(async () => {
    t = await testEnv();
  });
  afterAll(async () => {
    watcher?.child.kill('SIGKILL');
    await removeLabelled(name);
    await t.cleanup();
  });

  it('reconciles on save, reports invalid edits without touching the cluster, repairs a deleted node, stops on Ctrl-C', async () => {
    const file = await writeSpec(t.dir, name, 0);
    watcher = new Background(['watch', '-f', file, '--interval', '1s'], t.env);
    await watcher.waitFor(/reconciled/);
    expect(await containerNames(name)).toEqual([`${name}-cp-1`]);

    // An editor-style atomic save (write a temp file, rename it over the spec): one more worker.
    await writeFile(`${file}.swp`, specYaml(name, 1));
    await rename(`${file}.swp`, file);
    await eventually(() => watcher!.output, async () => (await containerNames(name)).length === 2, 60_000, 100);
    expect(watcher.output).toMatch(/change detected/);

    // An invalid edit is reported once (not again at each drift check), and the cluster is left as it is.
    await writeFile(file, specYaml(name, 1).replace('count: 1\n', 'count: many\n'));
    await watcher.waitFor(/invalid spec, cluster left as it is/);
    await sleep(3500); // three drift checks
    expect(count(watcher.output, 'invalid spec, cluster left as it is'), watcher.output).toBe(1);
    expect(await containerNames(name)).toEqual([`${name}-cp-1`, `${name}-w-1`]);

    // The spec goes missing: said once, as a missing file; back, it is reconciled again.
    await rename(file, `${file}.away`);
    await watcher.waitFor(/does not exist/);
    await sleep(3500);
    expect(count(watcher.output, `${file} does not exist`), watcher.output).toBe(1);
    expect(watcher.output).toContain('cluster left as it is until the spec can be read again');
    await writeFile(file, specYaml(name, 1));
    await watcher.waitFor(/is in sync/);

    // Drift: a node container removed by hand (its /var volume stays) is said to be missing, and recreated.
    const worker = (await labelled(name)).containers.find((c) => c.Names[0] === `/${name}-w-1`)!;
    await docker.getContainer(worker.Id).remove({ force: true });
    await watcher.waitFor(/drift detected/, 60_000);
    await eventually(() => watcher!.output, async () => (await labelled(name)).containers.some((c) => c.Names[0] === `/${name}-w-1` && c.State === 'running'), 60_000, 100);
    expect(watcher.output).toContain(`remove volume ${name}-w-1-var (/var of node ${name}-w-1)  (node ${name}-w-1 is missing (its container was removed, or an interrupted run never created it), and its /var volume goes with it)`);
    expect(watcher.output).toContain(`create node ${name}-w-1 (worker)  (missing: created again, with a new /var volume)`);
    expect(watcher.output).not.toContain('left by an interrupted run');

    // Every text line starts with the time.
    const lines = watcher.stdout.split('\n').filter(Boolean);
    expect(lines.filter((l) => !/^\d\d:\d\d:\d\d /.test(l)), watcher.stdout).toEqual([]);

    watcher.child.kill('SIGINT');
    const exit = await watcher.exited;
    expect(exit.code).toBe(0);
    expect(watcher.output).toContain('watch stopped');
  });

  it('Ctrl-C while idle (no run in flight) stops calmly', async () => {
    const file = await writeSpec(t.dir, name, 1);
    watcher = new Background(['watch', '-f', file, '--interval', '10m'], t.env);
    await watcher.waitFor(/is in sync|reconciled/);
    await sleep(300);
    watcher.child.kill('SIGINT');
    expect((await watcher.exited).code).toBe(0);
    expect(watcher.output).toMatch(/^\d\d:\d\d:\d\d watch stopped$/m);
    expect(watcher.output).not.toMatch(/SIGINT|stopping/);
  });
});
