// What mk remembers of a cluster, against the real Docker engine: the last attempted apply and how it
// ended (status says where a failed apply stopped), delete of a name mk cannot find (says so, creates
// nothing), and delete forgetting the cluster.
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mk } from '../helpers/cli.js';
import { clusterYaml, controlPlanes, dockerDriver } from '../helpers/spec.js';
import { TEST_IMAGE, labelled, removeLabelled, testEnv, uniqueClusterName, type TestEnv } from './helpers.js';

const exists = (path: string) => stat(path).then(() => true, () => false);

describe('mk remembers the last apply, and forgets a deleted cluster', () => {
  let t: TestEnv;
  const name = uniqueClusterName('st');
  const state = () => join(t.home, 'clusters', name);
  const spec = (image: string) => clusterYaml({ name, bootstrap: 'none', driver: dockerDriver(image), nodes: [controlPlanes(1)] });

  beforeAll(async () => {
    t = await testEnv();
  });
  afterAll(async () => {
    await removeLabelled(name);
    await t.cleanup();
  });

  it('delete of a name mk cannot find says so, exits 1 and creates nothing', async () => {
    const r = await mk(['delete', name], t.env);
    expect(r.code, r.output).toBe(1);
    expect(r.stderr).toContain(`no cluster named "${name}": nothing carries mk's label mk.dev/cluster=${name}`);
    expect(await exists(state())).toBe(false);
    // -f: the file's cluster is gone, as asked: nothing to do, exit 0.
    const file = join(t.dir, 'gone.yaml');
    await writeFile(file, spec(TEST_IMAGE));
    const f = await mk(['delete', '-f', file], t.env);
    expect(f.code, f.output).toBe(0);
    expect(f.stdout).toContain(`cluster "${name}" does not exist: nothing to delete`);
    expect(await exists(state())).toBe(false);
  });

  it('a failed first apply is recorded: status says which step failed and when, and compares with the attempted spec', async () => {
    const file = join(t.dir, 'bad.yaml');
    await writeFile(file, spec('mk.local/no-such-node-image:0'));
    const r = await mk(['apply', '-f', file], t.env);
    expect(r.code, r.output).toBe(1);
    const run = JSON.parse(await readFile(join(state(), 'last-run.json'), 'utf8')) as { outcome: string; failedStep?: string; error?: string; finishedAt?: string };
    expect(run).toMatchObject({ outcome: 'failed', failedStep: `node.create:${name}-cp-1` });
    expect(run.error).toContain('mk.local/no-such-node-image:0');
    expect((await stat(join(state(), 'last-run.json'))).mode & 0o777).toBe(0o600);
    expect(await exists(join(state(), 'last-applied.json'))).toBe(false);
    const status = await mk(['status', name], t.env);
    expect(status.stdout).toMatch(new RegExp(`^ {2}last apply: failed at \\S+ in step node\\.create:${name}-cp-1: .*no-such-node-image`, 'm'));
    expect(status.stdout).toContain('sync: out of sync with the spec of the last apply attempted (none finished)');
  });

  it('a good apply replaces the record; delete removes the cluster and what mk remembered of it', async () => {
    const file = join(t.dir, 'good.yaml');
    await writeFile(file, spec(TEST_IMAGE));
    const r = await mk(['apply', '-f', file], t.env);
    expect(r.code, r.output).toBe(0);
    expect(JSON.parse(await readFile(join(state(), 'last-run.json'), 'utf8'))).toMatchObject({ outcome: 'done' });
    const status = await mk(['status', name], t.env);
    expect(status.stdout).not.toContain('last apply:');
    expect(status.stdout).toContain('sync: in sync with the last applied spec');
    const d = await mk(['delete', name], t.env);
    expect(d.code, d.output).toBe(0);
    expect((await labelled(name)).containers).toEqual([]);
    expect(await exists(state())).toBe(false);
  });
});
