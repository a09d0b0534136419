// mk watch against the real Docker engine: reacts to a save, ignores an invalid edit, repairs drift.
import { rename, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Background } from '../helpers/cli.js';
import { eventually } from '../helpers/wait.js';
import { containerNames, docker, labelled, removeLabelled, specYaml, testEnv, uniqueClusterName, writeSpec, type TestEnv } from './helpers.js';

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
    watcher = new Background(['watch', '-f', file, '--interval', '2s'], t.env);
    await watcher.waitFor(/reconciled/);
    expect(await containerNames(name)).toEqual([`${name}-cp-1`]);

    // An editor-style atomic save (write a temp file, rename it over the spec): one more worker.
    await writeFile(`${file}.swp`, specYaml(name, 1));
    await rename(`${file}.swp`, file);
    await eventually(() => watcher!.output, async () => (await containerNames(name)).length === 2, 60_000, 100);
    expect(watcher.output).toMatch(/change detected/);

    // An invalid edit is reported, and the cluster is left as it is.
    await writeFile(file, specYaml(name, 1).replace('count: 1\n', 'count: many\n'));
    await watcher.waitFor(/invalid spec, cluster left as it is/);
    expect(await containerNames(name)).toEqual([`${name}-cp-1`, `${name}-w-1`]);
    await writeFile(file, specYaml(name, 1));

    // Drift: a node container removed by hand is recreated by the periodic re-observe.
    const worker = (await labelled(name)).containers.find((c) => c.Names[0] === `/${name}-w-1`)!;
    await docker.getContainer(worker.Id).remove({ force: true });
    await watcher.waitFor(/drift detected/, 60_000);
    await eventually(() => watcher!.output, async () => (await labelled(name)).containers.some((c) => c.Names[0] === `/${name}-w-1` && c.State === 'running'), 60_000, 100);

    watcher.child.kill('SIGINT');
    const exit = await watcher.exited;
    expect(exit.code).toBe(0);
    expect(watcher.output).toContain('watch stopped');
  });
});
