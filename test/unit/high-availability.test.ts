// The pure parts of high availability: mk's load balancer configuration (what it lists, read back),
// etcd's member list as its JSON API answers, the quorum rule, and what plans say of control-plane
// counts. A real haproxy checks the configuration where Docker runs (skipped without it).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { parseLbBackends, renderLbConfig } from '../../src/drivers/load-balancer.js';
import { MemoryDriver } from '../../src/drivers/memory.js';
import { parseMembers } from '../../src/kubeadm/etcd.js';
import { renderInitConfig } from '../../src/kubeadm/config.js';
import { endpointUrl } from '../../src/kubeadm/endpoint.js';
import { parseSpec } from '../../src/spec/load.js';
import { quorum } from '../../src/kubeadm/etcd-quorum.js';
import { planCluster } from '../../src/reconcile/phases.js';
import { reconcile } from '../../src/reconcile/runner.js';
import { RecordingReporter } from '../../src/log.js';
import { aCluster, observedOf } from './builders.js';

const execFileP = promisify(execFile);

describe("mk's load balancer configuration", () => {
  const backends = [
    { name: 'dev-cp-2', address: '172.18.0.4' },
    { name: 'dev-cp-1', address: '172.18.0.3' },
    { name: 'dev-cp-3', address: 'fd00::5' },
  ];

  it('lists every backend on the API server port, sorted, and reads back what it wrote', () => {
    const config = renderLbConfig(backends);
    expect(config.match(/^\s*server .*$/gm)).toEqual(['  server dev-cp-1 172.18.0.3:6443', '  server dev-cp-2 172.18.0.4:6443', '  server dev-cp-3 [fd00::5]:6443']);
    expect(parseLbBackends(config)).toEqual({ 'dev-cp-1': '172.18.0.3', 'dev-cp-2': '172.18.0.4', 'dev-cp-3': 'fd00::5' });
    expect(parseLbBackends(renderLbConfig([]))).toEqual({});
  });

  it('checks /readyz and drops the connections of a control plane that fails its checks', () => {
    const config = renderLbConfig(backends);
    expect(config).toContain('http-check send meth GET uri /readyz');
    expect(config).toMatch(/default-server .*check-ssl .*on-marked-down shutdown-sessions/);
  });

  it('haproxy accepts it, with and without backends (the node image when Docker has it)', async () => {
    const image = process.env.MK_TEST_NODE_IMAGE ?? 'mk.local/node:v1.36.3';
    const has = await execFileP('docker', ['image', 'inspect', image]).then(() => true, () => false);
    if (!has) return void console.log(`skipped: no ${image} in Docker`);
    const dir = await mkdtemp(join(tmpdir(), 'mk-lb-'));
    try {
      for (const [file, list] of [['some.cfg', backends], ['none.cfg', []]] as const) {
        await writeFile(join(dir, file), renderLbConfig(list));
        const r = await execFileP('docker', ['run', '--rm', '-v', `${dir}:/c:ro`, '--entrypoint', 'haproxy', image, '-c', '-f', `/c/${file}`]);
        expect(r.stdout).toContain('Configuration file is valid');
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('etcd members', () => {
  it("parses etcd's JSON API (IDs as strings), leaves learners out, sorts by name", () => {
    const answer = JSON.stringify({
      header: { cluster_id: '1' },
      members: [
        { ID: '12858828581462913056', name: 'dev-cp-2', peerURLs: ['https://172.18.0.4:2380'] },
        { ID: '9372538179322589801', name: 'dev-cp-1', peerURLs: ['https://172.18.0.3:2380'] },
        { ID: '42', peerURLs: ['https://172.18.0.6:2380'], isLearner: true },
        { ID: '7', peerURLs: ['https://172.18.0.5:2380'] },
      ],
    });
    expect(parseMembers(answer)).toEqual([
      { id: '7', name: '', peerUrls: ['https://172.18.0.5:2380'] },
      { id: '9372538179322589801', name: 'dev-cp-1', peerUrls: ['https://172.18.0.3:2380'] },
      { id: '12858828581462913056', name: 'dev-cp-2', peerUrls: ['https://172.18.0.4:2380'] },
    ]);
  });

  it('an error answer or text that is not JSON is an error naming what etcd said', () => {
    expect(() => parseMembers('{"error":"etcdserver: no leader","code":14}')).toThrow(/no leader/);
    expect(() => parseMembers('curl: (7) Failed to connect')).toThrow(/not JSON: curl/);
  });

  it('quorum is a majority', () => {
    expect([1, 2, 3, 4, 5].map(quorum)).toEqual([1, 2, 2, 3, 3]);
  });
});

describe('plans of control-plane counts', () => {
  it('an even count is warned of, with what it tolerates', () => {
    const two = aCluster('dev').withControlPlanes(2).build();
    expect(planCluster(two, observedOf(two)).warnings).toEqual([expect.stringMatching(/^2 control planes: etcd needs 2 of them and survives the loss of 0/)]);
    const three = aCluster('dev').withControlPlanes(3).build();
    expect(planCluster(three, observedOf(three)).warnings).toEqual([]);
  });

  it('the memory driver: the load balancer comes with the second control plane, lists them, and goes with it', async () => {
    const driver = new MemoryDriver();
    const run = async (cps: number) => {
      const r = await reconcile(aCluster('dev').withControlPlanes(cps).withWorkers(1).withoutKubernetes().build(), { driver, reporter: new RecordingReporter(), mode: 'apply' });
      expect(r.result?.ok).toBe(true);
      return r.plan.steps.map((s) => s.id);
    };
    await run(1);
    expect(driver.loadBalancers.size).toBe(0);
    expect(await run(3)).toEqual(expect.arrayContaining(['lb.create:dev', 'lb.configure:dev']));
    expect(Object.keys(parseLbBackends(driver.loadBalancers.get('dev')!.config)).sort()).toEqual(['dev-control-plane-1', 'dev-control-plane-2', 'dev-control-plane-3']);
    expect(await run(3)).toEqual([]);
    expect(await run(1)).toEqual(expect.arrayContaining(['lb.remove:dev']));
    expect(driver.loadBalancers.size).toBe(0);
  });
});

describe('ssh: the endpoint the spec names (networking.controlPlaneEndpoint)', () => {
  const ssh = (endpoint: string) =>
    parseSpec(readFileSync(join(import.meta.dirname, '../../clusters/ssh.yaml'), 'utf8').replace('  cri: containerd', `  networking:\n    controlPlaneEndpoint: "${endpoint}"\n  cri: containerd`), 'ssh.yaml').cluster;

  it("is the exported kubeconfig's server and joins the API server certificate", () => {
    const c = ssh('10.0.0.100');
    expect(endpointUrl(c, {})).toBe('https://10.0.0.100:6443');
    expect(endpointUrl(ssh('fd00::100'), {})).toBe('https://[fd00::100]:6443');
    const init = yaml.load(renderInitConfig({ cluster: c, node: { name: 'lab-control-plane-1', role: 'control-plane', address: '10.0.0.11', labels: {}, taints: [] }, kubelet: { cgroupDriver: 'systemd' } }).split('---\n')[1]!) as { apiServer: { certSANs: string[] } };
    expect(init.apiServer.certSANs).toContain('10.0.0.100');
  });

  it('is refused on docker (mk runs its own load balancer) and when it is not an address', () => {
    expect(() => ssh('vip.example.com')).toThrow(/controlPlaneEndpoint[^]*is not an IPv4 or IPv6 address/);
    const docker = 'apiVersion: mk.dev/v1alpha1\nkind: Cluster\nmetadata: {name: d}\nspec:\n  networking: {controlPlaneEndpoint: 10.0.0.100}\n';
    expect(() => parseSpec(docker, 'd.yaml')).toThrow(/d\.yaml:5:\d+[^]*controlPlaneEndpoint is for the ssh driver/);
  });

  it('without a load balancer or a named endpoint, a control plane is the endpoint', () => {
    const one = aCluster('dev').build();
    expect(endpointUrl(one, { loadBalancer: { id: 'x', name: 'dev-lb', state: 'running', image: 'i', apiServerPort: 7000 } })).toBeUndefined();
    const three = aCluster('dev').withControlPlanes(3).build();
    expect(endpointUrl(three, { loadBalancer: { id: 'x', name: 'dev-lb', state: 'running', image: 'i', apiServerPort: 7000 } })).toBe('https://127.0.0.1:7000');
  });
});
