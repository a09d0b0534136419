// mk addons list through the CLI, and wrong addon names and options in a spec: the catalog alone,
// then a cluster's known spec (a first apply that failed: what it enables, and that whether each is
// installed could not be checked with no control plane running).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CATALOG } from '../../src/catalog/index.js';
import { mk } from '../helpers/cli.js';
import { clusterYaml, controlPlanes, dockerDriver } from '../helpers/spec.js';
import { removeLabelled, testEnv, uniqueClusterName, type TestEnv } from './helpers.js';

interface Listed {
  cluster?: { name: string; spec: string };
  installedError?: string;
  addons: Array<{ name: string; images: Record<string, string>; enabled?: boolean; enabledBy?: string; installed?: boolean; verified: { level: string; detail: string } }>;
}

describe('mk addons list, and addon names in a spec', () => {
  let t: TestEnv;
  const name = uniqueClusterName('ad');

  beforeAll(async () => {
    t = await testEnv();
  });
  afterAll(async () => {
    await removeLabelled(name);
    await t.cleanup();
  });

  it('lists the catalog: every addon with its version, images and what was verified (running: only where a test shows it)', async () => {
    const r = await mk(['addons', 'list'], t.env);
    expect(r.code, r.output).toBe(0);
    const label = { api: 'api-server', 'mk-apply': 'mk apply', running: 'running' };
    for (const entry of CATALOG.values()) expect(r.stdout).toMatch(new RegExp(`^${entry.name} +${entry.version.replace(/\./g, '\\.')} +${label[entry.verified.level]} +`, 'm'));
    expect(r.stdout).not.toContain('ENABLED');

    const json = await mk(['addons', 'list', '-o', 'json'], t.env);
    const list = JSON.parse(json.stdout) as Listed;
    expect(list.addons.map((a) => a.name)).toEqual([...CATALOG.keys()].sort());
    expect(list.addons.find((a) => a.name === 'istio')!.images).toEqual(CATALOG.get('istio')!.images);
    expect(list.addons.filter((a) => a.verified.level === 'running').map((a) => a.name)).toEqual(['gateway-api', 'ingress', 'ingress-dns', 'metallb', 'metrics-server', 'registry', 'storage']);
  });

  it('for a cluster: enabled from its known spec, installed not checked while no control plane runs', async () => {
    const file = join(t.dir, 'addons.yaml');
    await writeFile(
      file,
      clusterYaml({ name, driver: dockerDriver(`mk.local/no-such-node-${name}:v1`), nodes: [controlPlanes(1)], loadBalancer: { enabled: true }, addons: [{ name: 'csi-hostpath-driver' }, { name: 'registry', enabled: false }] }),
    );
    const failed = await mk(['apply', '-f', file, '--skip-preflight'], t.env);
    expect(failed.code, failed.output).toBe(1);

    const r = await mk(['addons', 'list', name], t.env);
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toMatch(/^csi-hostpath-driver +\S+ +yes +\? +/m);
    expect(r.stdout).toMatch(/^volumesnapshots +\S+ +yes \(needed by csi-hostpath-driver\) +\? +/m);
    expect(r.stdout).toMatch(/^metallb +\S+ +yes \(loadBalancer\.enabled\) +\? +/m);
    expect(r.stdout).toMatch(/^registry +\S+ +no +\? +/m);
    expect(r.stdout).toContain('ENABLED: from the spec of its last apply attempted (none finished).');
    expect(r.stdout).toContain(`INSTALLED: not checked: the API server of cluster ${name} could not be asked about addons: no running control plane of cluster ${name} gives admin access.`);

    const json = JSON.parse((await mk(['addons', 'list', name, '-o', 'json'], t.env)).stdout) as Listed;
    expect(json.cluster).toMatchObject({ name, spec: 'last-attempted' });
    expect(json.addons.filter((a) => a.enabled).map((a) => a.name)).toEqual(['csi-hostpath-driver', 'metallb', 'volumesnapshots']);
    expect(json.installedError).toMatch(/no running control plane/);
    await mk(['delete', name], t.env);

    const unknown = await mk(['addons', 'list', `${name}x`], t.env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(`error: mk knows no spec of cluster "${name}x"`);
  });

  it('a wrong addon name or option in a spec: did you mean, at its line and column', async () => {
    const file = join(t.dir, 'typo.yaml');
    await writeFile(file, clusterYaml({ name, bootstrap: 'none', driver: dockerDriver('x'), nodes: [controlPlanes(1)], addons: [{ name: 'metric-server' }, { name: 'ingress', options: { hostport: false } }] }));
    const r = await mk(['plan', '-f', file], t.env);
    expect(r.code, r.output).toBe(1);
    expect(r.stderr).toContain(`${file}:17:13: spec.addons[0].name: "metric-server" is not an addon of mk's catalog (did you mean "metrics-server"?); give manifests: to install your own`);
    expect(r.stderr).toContain(`${file}:20:9: spec.addons[1].options.hostport: unknown field "hostport" (did you mean "hostPorts"?)`);
  });
});
