// mk logs against fake nodes (the memory driver's exec and node report) and a fake API server: every
// piece of the report is there, a node that does not run is reported, not fatal, and no secret the
// nodes, the API server or mk's run log hold reaches a file or the printed output.
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { exportLogs } from '../../src/commands/logs.js';
import { MemoryDriver } from '../../src/drivers/memory.js';
import type { ExecResult } from '../../src/drivers/types.js';
import { nodeConfigHash, nodeImage } from '../../src/infrastructure/node-config.js';
import { ADMIN_CONF } from '../../src/kubeadm/context.js';
import { NODE_COMMANDS, NODE_FILES, podStatus } from '../../src/kubeadm/diagnostics.js';
import { RunLog } from '../../src/output/run-log.js';
import { expandNodes } from '../../src/spec/nodes.js';
import type { Cluster } from '../../src/spec/types.js';
import { saveLastApplied } from '../../src/state.js';
import { testContext } from '../helpers/context.js';
import { aCluster } from './builders.js';
import { fakeApi, kubeconfigYaml, testPki, type FakeApi } from './fake-apiserver.js';

// Secrets planted wherever a report reads: journals, node files, the driver's report, API objects, mk's run log.
const TOKEN = 'abcdef.0123456789abcdef';
const CERT_KEY = 'f'.repeat(64);
const PEM = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBplantedsecretkeymaterial\n-----END EC PRIVATE KEY-----';
const SECRETS = [TOKEN, CERT_KEY, 'MHcCAQEEIBplantedsecretkeymaterial', 'hunter2'];

const NOW = new Date('2026-12-06T12:00:00Z');
const dev: Cluster = aCluster('dev').withWorkers(2).build();
const ok = (stdout: string): ExecResult => ({ stdout, stderr: '', exitCode: 0 });
const missing: ExecResult = { stdout: '', stderr: 'cat: No such file or directory', exitCode: 1 };

let api: FakeApi;
let adminConf: string;
let home: string;
let out: string;
const saved = process.env.MK_HOME;

beforeAll(async () => {
  api = await fakeApi((req) => {
    const node = (name: string, role: string | undefined, ready: string) => ({
      metadata: { name, creationTimestamp: '2026-12-06T11:00:00Z', labels: role ? { [`node-role.kubernetes.io/${role}`]: '' } : {} },
      spec: { podCIDR: '10.244.1.0/24' },
      status: {
        conditions: [{ type: 'Ready', status: ready, reason: ready === 'True' ? 'KubeletReady' : 'KubeletNotReady', message: ready === 'True' ? 'kubelet is posting ready status' : 'container runtime network not ready: cni plugin not initialized' }],
        addresses: [{ type: 'InternalIP', address: '172.30.0.2' }],
        nodeInfo: { kubeletVersion: 'v1.36.3', osImage: 'Debian GNU/Linux 12', kernelVersion: '6.8.0', containerRuntimeVersion: 'containerd://2.1.0' },
      },
    });
    switch (req.url) {
      case '/api/v1/nodes':
        return { status: 200, body: { items: [node('dev-control-plane-1', 'control-plane', 'True'), node('dev-worker-1', undefined, 'False')] } };
      case '/api/v1/pods':
        return {
          status: 200,
          body: {
            items: [
              { metadata: { namespace: 'kube-system', name: 'coredns-1', creationTimestamp: '2026-12-06T11:58:30Z' }, spec: { nodeName: 'dev-worker-1', containers: [{}] }, status: { phase: 'Running', podIP: '10.244.1.2', containerStatuses: [{ ready: false, restartCount: 4, state: { waiting: { reason: 'CrashLoopBackOff' } } }] } },
            ],
          },
        };
      case '/api/v1/events':
        return {
          status: 200,
          body: { items: [{ metadata: { namespace: 'kube-system' }, type: 'Warning', reason: 'BackOff', message: `Back-off restarting; token: ${TOKEN}`, involvedObject: { kind: 'Pod', name: 'coredns-1' }, lastTimestamp: '2026-12-06T11:59:00Z', count: 3 }] },
        };
      default:
        return { status: 404 };
    }
  });
  adminConf = kubeconfigYaml('kubernetes-admin@kubernetes', api.credentials);
});
afterAll(async () => {
  await api.close();
});

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'mk-logs-home-'));
  out = await mkdtemp(join(tmpdir(), 'mk-logs-out-'));
  process.env.MK_HOME = home;
});
afterEach(async () => {
  if (saved === undefined) delete process.env.MK_HOME;
  else process.env.MK_HOME = saved;
  await rm(home, { recursive: true, force: true });
  await rm(out, { recursive: true, force: true });
});

/** A fake node: journals and files that hold secrets, crictl missing, runtimes other than containerd without entries. */
function exec(_node: string, argv: readonly string[]): ExecResult {
  const [cmd, ...args] = argv;
  if (cmd === 'cat') {
    const path = args.at(-1)!;
    if (path === ADMIN_CONF) return ok(adminConf);
    if (path === '/etc/mk/kubeadm.json') return ok('{"cluster":"dev","role":"worker"}\n');
    if (path === '/etc/mk/kubeadm-init.yaml') return ok(`kind: InitConfiguration\ncertificateKey: ${CERT_KEY}\n`);
    if (path === '/etc/cni/net.d/10-mk.conflist') return ok('{"cniVersion":"1.0.0","name":"mk"}\n');
    return missing;
  }
  if (cmd === 'journalctl') {
    const unit = args[args.indexOf('-u') + 1];
    if (!args.includes('-u')) return ok('Dec 06 12:00:00 node systemd[1]: Started kubelet.service\n');
    if (unit === 'kubelet') return ok(`Dec 06 11:59:59 node kubelet[42]: flags: --token=${TOKEN}\nDec 06 11:59:59 node kubelet[42]: read key ${PEM}\n`);
    if (unit === 'containerd') return ok(`Dec 06 11:59:58 node containerd[7]: password=hunter2 loaded plugin\n`);
    return ok('-- No entries --\n');
  }
  if (cmd === 'crictl') return { stdout: '', stderr: 'sh: crictl: not found', exitCode: 127 };
  return ok(`${argv.join(' ')} output\n`);
}

async function driverWithCluster(): Promise<MemoryDriver> {
  const driver = new MemoryDriver({
    onExec: exec,
    onNodeReport: () => [{ name: 'container.log', content: `systemd 255 running; join token ${TOKEN}\n` }],
  });
  await driver.ensureNetwork({ cluster: 'dev' });
  for (const node of expandNodes(dev)) {
    await driver.createNode({ node, image: nodeImage(dev), configHash: nodeConfigHash(dev, node), ...(node.role === 'control-plane' ? { apiServerPort: Number(new URL(api.url).port) } : {}) });
  }
  driver.setState('dev-worker-2', 'stopped');
  return driver;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name))).sort();
}

describe('mk logs', () => {
  it('writes every piece of the report, redacted, and says what it could not read', async () => {
    await saveLastApplied(dev);
    const run = new RunLog({ cluster: 'dev', command: 'apply', home });
    run.write({ type: 'debug', message: `kubeadm join with ${TOKEN}` });
    run.close();
    const driver = await driverWithCluster();
    const ctx = testContext();

    expect(await exportLogs(ctx, { driver, cluster: dev, applied: true }, { outputDir: out, now: () => NOW })).toBe(0);

    const files = await filesUnder(out);
    const cp = 'nodes/dev-control-plane-1';
    // Per running node: the driver's report, the kubelet and runtime journals (runtimes without entries left out), the node's journal, commands, mk's files.
    for (const f of ['node.json', 'container.log', 'kubelet.log', 'containerd.log', 'journal.log', 'services.txt', 'kubelet-unit.txt', 'containers.txt', 'ip-address.txt', 'ip-route.txt', 'files/etc/mk/kubeadm.json', 'files/etc/mk/kubeadm-init.yaml', 'files/etc/cni/net.d/10-mk.conflist']) {
      expect(files).toContain(`${cp}/${f}`);
    }
    expect(files).not.toContain(`${cp}/crio.log`);
    // A stopped node: only what the driver knows.
    expect(files.filter((f) => f.startsWith('nodes/dev-worker-2/'))).toEqual(['nodes/dev-worker-2/container.log', 'nodes/dev-worker-2/node.json']);
    // Cluster-wide through the control plane, mk's own log and the last applied spec, and the summary.
    expect(files).toEqual(expect.arrayContaining(['cluster/nodes.txt', 'cluster/pods.txt', 'cluster/events.txt', 'mk/last-applied.json', 'summary.txt']));
    expect(files.filter((f) => f.startsWith('mk/runs/'))).toEqual([expect.stringMatching(/^mk\/runs\/.*-apply-\d+\.log$/)]);
    // Never a kubeconfig, a key or a join config.
    expect(files.filter((f) => /\/etc\/kubernetes\/|\.key$|kubeadm-join|admin\.conf/.test(f))).toEqual([]);
    expect(driver.execs.filter((e) => e.argv.some((a) => /pki\/.*\.key|kubeadm-join|\/etc\/kubernetes\/(?!admin\.conf$)/.test(a)))).toEqual([]);

    const read = (f: string) => readFile(join(out, f), 'utf8');
    expect(await read(`${cp}/containers.txt`)).toBe('[crictl exited 127]\nsh: crictl: not found');
    expect(await read('cluster/nodes.txt')).toMatch(/^NAME +STATUS +ROLES +AGE +VERSION +INTERNAL-IP .*\ndev-control-plane-1 +Ready +control-plane +60m +v1\.36\.3 +172\.30\.0\.2 .*\ndev-worker-1 +NotReady +<none> +60m /);
    expect(await read('cluster/nodes.txt')).toMatch(/^ {2}Ready +False +KubeletNotReady +container runtime network not ready: cni plugin not initialized$/m);
    expect(await read('cluster/pods.txt')).toMatch(/^kube-system +coredns-1 +0\/1 +CrashLoopBackOff +4 +90s +10\.244\.1\.2 +dev-worker-1$/m);
    expect(await read('cluster/events.txt')).toMatch(/^kube-system +60s \(2026-12-06T11:59:00Z\) +Warning +BackOff +pod\/coredns-1 +3 +Back-off restarting; token: \[redacted\]$/m);

    // Nothing secret anywhere, and the admin kubeconfig's credentials nowhere.
    const pki = await testPki();
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    for (const f of files) {
      const text = await read(f);
      for (const s of [...SECRETS, b64(pki.client.key), b64(pki.client.cert)]) expect(text, `${f} holds a secret`).not.toContain(s);
      expect((await stat(join(out, f))).mode & 0o777, f).toBe(0o600);
    }
    expect(await read(`${cp}/kubelet.log`)).toContain('--token=[redacted]');
    expect(await read(`${cp}/kubelet.log`)).toContain('-----BEGIN EC PRIVATE KEY-----[redacted]-----END EC PRIVATE KEY-----');

    const printed = ctx.lines.join('\n');
    for (const s of SECRETS) expect(printed).not.toContain(s);
    expect(printed).toMatch(/^ {2}nodes\/dev-worker-2\/ +worker, stopped +2 files$/m);
    expect(printed).toMatch(/^ {2}cluster\/ +through dev-control-plane-1 +nodes\.txt, pods\.txt, events\.txt$/m);
    expect(printed).toMatch(/^ {2}mk\/ +this machine +1 run log, last applied spec$/m);
    expect(printed).toContain('    dev-worker-2: not running (stopped): its journals and files were not read');
    expect(printed).toContain(`written to ${out}: attach it to the bug report`);
    expect(await read('summary.txt')).toContain('dev-control-plane-1: not on the node: /etc/mk/routes');
  });

  it('-o json: one event per part; without --output-dir a new folder in the current directory', async () => {
    const driver = await driverWithCluster();
    const ctx = testContext({ output: 'json' });
    expect(await exportLogs(ctx, { driver, cluster: dev, applied: false }, { cwd: out, now: () => NOW })).toBe(0);
    const events = ctx.lines.map((l) => JSON.parse(l) as { type: string; node?: string; state?: string; dir?: string; created?: boolean; through?: string });
    expect(events.map((e) => e.type)).toEqual(['logs.node', 'logs.node', 'logs.node', 'logs.cluster', 'logs.mk', 'logs.written']);
    expect(events.find((e) => e.node === 'dev-worker-2')).toMatchObject({ state: 'stopped', problems: [expect.stringMatching(/^not running/)] });
    expect(events[3]).toMatchObject({ through: 'dev-control-plane-1' });
    expect(events[5]).toMatchObject({ dir: join(out, 'mk-logs-dev-20261206T120000Z'), created: true });
    expect((await stat(events[5]!.dir!)).mode & 0o777).toBe(0o700);
    // A second run in the same second gets its own folder.
    await exportLogs(testContext(), { driver, cluster: dev, applied: false }, { cwd: out, now: () => NOW });
    expect((await readdir(out)).sort()).toEqual(['mk-logs-dev-20261206T120000Z', 'mk-logs-dev-20261206T120000Z-2']);
  });

  it('no running control plane: the nodes are still collected and the summary says why the API was not read', async () => {
    const driver = await driverWithCluster();
    driver.setState('dev-control-plane-1', 'stopped');
    const ctx = testContext();
    expect(await exportLogs(ctx, { driver, cluster: dev, applied: true }, { outputDir: out, now: () => NOW })).toBe(0);
    expect(await filesUnder(join(out, 'nodes', 'dev-worker-1'))).toContain('kubelet.log');
    expect(ctx.lines.join('\n')).toContain('cluster: no running control plane has an admin kubeconfig: Nodes, Pods and Events not read');
  });

  it('a name nothing carries and mk keeps nothing for is an error, and writes nothing', async () => {
    const ctx = testContext();
    await expect(exportLogs(ctx, { driver: new MemoryDriver(), cluster: aCluster('nosuch').build(), applied: false }, { cwd: out })).rejects.toThrow(/^no cluster named "nosuch"/);
    expect(await readdir(out)).toEqual([]);
  });

  it('reads only files that hold no secret, and on hosts (not containers) not their whole journal', () => {
    for (const path of NODE_FILES) expect(path).not.toMatch(/^\/etc\/kubernetes\/|\.key$|kubeadm-join/);
    expect(NODE_COMMANDS.find((c) => c.file === 'journal.log')?.containerNodesOnly).toBe(true);
  });

  it("a pod's STATUS reads like kubectl's", () => {
    const pod = (status: object, meta: object = {}) => ({ metadata: { name: 'p', namespace: 'n', ...meta }, status });
    expect(podStatus(pod({ phase: 'Running', containerStatuses: [{ state: { running: {} } }] }))).toBe('Running');
    expect(podStatus(pod({ phase: 'Pending', containerStatuses: [{ state: { waiting: { reason: 'ErrImagePull' } } }] }))).toBe('ErrImagePull');
    expect(podStatus(pod({ phase: 'Failed', containerStatuses: [{ state: { terminated: { exitCode: 137 } } }] }))).toBe('ExitCode:137');
    expect(podStatus(pod({ phase: 'Pending', initContainerStatuses: [{ state: { waiting: { reason: 'PodInitializing' } } }, { state: {} }] }))).toBe('Init:0/2');
    expect(podStatus(pod({ phase: 'Pending', initContainerStatuses: [{ state: { terminated: { exitCode: 1, reason: 'Error' } } }] }))).toBe('Init:Error');
    expect(podStatus(pod({ phase: 'Running' }, { deletionTimestamp: '2026-12-06T11:00:00Z' }))).toBe('Terminating');
  });
});
