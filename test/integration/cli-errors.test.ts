// Errors and plan facts as a user meets them through the CLI: each error once, with its cause and
// what to do (an engine that does not answer, a -f file that is not there, a node image the engine
// cannot get), and what the plan says of the Kubernetes version and node image it will use.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mk } from '../helpers/cli.js';
import { clusterYaml, controlPlanes, dockerDriver, workers } from '../helpers/spec.js';
import { TEST_IMAGE, labelled, removeLabelled, testEnv, uniqueClusterName, type TestEnv } from './helpers.js';

const count = (text: string, fragment: string): number => text.split(fragment).length - 1;

describe('errors and plan facts through the CLI', () => {
  let t: TestEnv;
  const name = uniqueClusterName('er');

  beforeAll(async () => {
    t = await testEnv();
  });
  afterAll(async () => {
    await removeLabelled(name);
    await t.cleanup();
  });

  const write = async (file: string, yaml: string): Promise<string> => {
    const path = join(t.dir, file);
    await writeFile(path, yaml);
    return path;
  };

  it('a Docker engine that does not answer: where mk asked, why, and what to do, once', async () => {
    const file = await write('down.yaml', clusterYaml({ name, bootstrap: 'none', driver: dockerDriver(TEST_IMAGE), nodes: [controlPlanes(1)] }));
    const socket = join(t.dir, 'no-engine.sock');
    const r = await mk(['plan', '-f', file], { ...t.env, DOCKER_HOST: `unix://${socket}` });
    expect(r.code, r.output).toBe(1);
    expect(r.stderr).toBe(
      `error: cannot reach the Docker engine at unix://${socket}: no engine listens there (connect ENOENT). ` +
        'Start it (sudo systemctl start docker, or open Docker Desktop; install Docker Engine first where there is none), ' +
        'or point mk at a running engine with DOCKER_HOST or DOCKER_CONTEXT (or spec.driver.docker.host / context)\n',
    );
    expect(r.stdout).toBe('');
  });

  it('a -f file that is not there is a missing file, not an invalid spec at 1:1', async () => {
    const r = await mk(['plan', '-f', 'no-such-dir/cluster.yaml'], t.env);
    expect(r.code, r.output).toBe(1);
    expect(r.stderr).toBe('error: cannot read the spec: no-such-dir/cluster.yaml does not exist (-f takes a cluster spec file, a directory of *.yaml specs, or - for standard input)\n');
    await mkdir(join(t.dir, 'empty'));
    const empty = await mk(['apply', '-f', join(t.dir, 'empty')], t.env);
    expect(empty.code, empty.output).toBe(1);
    expect(empty.stderr).toContain(`error: cannot read the spec: ${join(t.dir, 'empty')} is a directory without *.yaml or *.yml files`);
  });

  it('a node image the engine cannot get: printed once, with what a user does (no repository script)', async () => {
    const image = `mk.local/no-such-node-${name}:v1`;
    const file = await write('image.yaml', clusterYaml({ name, bootstrap: 'none', driver: dockerDriver(image), nodes: [controlPlanes(1)] }));
    const r = await mk(['apply', '-f', file, '--skip-preflight'], t.env);
    expect(r.code, r.output).toBe(1);
    expect(count(r.output, `node image ${image} is not on the Docker engine and could not be pulled`), r.output).toBe(1);
    expect(r.output).toContain(`docker pull ${image} where a registry is reachable, or docker load -i FILE`);
    expect(r.output).not.toMatch(/npm run|scripts\//);
    expect(r.output).not.toContain('error:');
    expect(r.stdout).toContain(`Cluster "${name}" not reconciled: 1 done, 1 failed`);
    await mk(['delete', name], t.env);
  });

  it('the plan says the Kubernetes version (1.31.2 read as v1.31.2) and node image of new nodes, warns of versions mk does not know, refuses old ones', async () => {
    const spec = (kubernetesVersion: string) => clusterYaml({ name, kubernetesVersion, driver: dockerDriver(TEST_IMAGE), nodes: [controlPlanes(1), workers(1)] });
    const plan = await mk(['plan', '-f', await write('v.yaml', spec('1.31.2')), '--skip-preflight'], t.env);
    expect(plan.code, plan.output).toBe(2);
    expect(plan.stdout.split('\n').slice(0, 2)).toEqual([`Plan for cluster "${name}" (${join(t.dir, 'v.yaml')}):`, `  new nodes: Kubernetes v1.31.2, node image ${TEST_IMAGE}`]);

    const newer = await mk(['plan', '-f', await write('new.yaml', spec('v1.40.0')), '--skip-preflight'], t.env);
    expect(newer.code, newer.output).toBe(2);
    expect(newer.stdout).toContain("warning: Kubernetes v1.40.0 is newer than mk knows (v1.24 to v1.36): its kubeadm may not accept mk's kubeadm.k8s.io/v1beta4 configuration");

    const old = await mk(['plan', '-f', await write('old.yaml', spec('v1.12.0'))], t.env);
    expect(old.code, old.output).toBe(1);
    expect(old.stderr).toContain(`old.yaml:6:22: spec.kubernetesVersion: Kubernetes v1.12.0 is older than mk bootstraps (v1.24 to v1.36)`);
    expect((await labelled(name)).containers).toEqual([]);
  });
});
