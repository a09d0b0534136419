// mk addons list, pure parts: the catalog as rows, what a cluster's spec enables (listed, implied by
// loadBalancer or a dependency, disabled) and what its API server says is installed, as text.
import { describe, expect, it } from 'vitest';
import { addonRows, enablement, formatAddonList } from '../../src/commands/addons.js';
import { CATALOG } from '../../src/catalog/index.js';
import { aCluster } from './builders.js';

const row = (rows: ReturnType<typeof addonRows>, name: string) => rows.find((r) => r.name === name)!;

describe('mk addons list', () => {
  it('lists every catalog addon, sorted, with its description, version, images, options and what was verified', () => {
    const rows = addonRows();
    expect(rows.map((r) => r.name)).toEqual([...CATALOG.keys()].sort());
    const ms = row(rows, 'metrics-server');
    expect(ms).toMatchObject({ version: CATALOG.get('metrics-server')!.version, images: CATALOG.get('metrics-server')!.images, verified: { level: 'running' } });
    expect(Object.keys(ms.options)).toEqual(['kubeletInsecureTLS', 'metricResolution', 'replicas']);
    expect(ms.enabled).toBeUndefined();
    // Honest: an addon is said to run only where an e2e test shows it doing its job, and names that test.
    expect(rows.filter((r) => r.verified.level === 'running').map((r) => r.name)).toEqual(['gateway-api', 'ingress', 'ingress-dns', 'metallb', 'metrics-server', 'registry', 'storage']);
    for (const r of rows) expect(r.verified.detail, r.name).toMatch(r.verified.level === 'running' ? /^test\/e2e\/mk-(addons|ingress|registry|ingress-dns)\.test\.ts: / : /pods never ran/);
    // An image it shares with kubeadm: the tag is the one the cluster runs.
    expect(row(rows, 'ingress-dns').images).toEqual({ 'ingress-dns': 'registry.k8s.io/coredns/coredns:<tag the cluster runs>' });
  });

  it('says what a spec enables: listed, disabled, brought by loadBalancer or needed by another addon', () => {
    const c = aCluster('dev').withAddon('csi-hostpath-driver').withAddon('ingress').build();
    c.spec.addons.push({ name: 'registry', enabled: false, options: {} });
    c.spec.loadBalancer.enabled = true;
    expect(['csi-hostpath-driver', 'volumesnapshots', 'metallb', 'registry', 'dashboard'].map((n) => enablement(c, n))).toEqual([
      { enabled: true },
      { enabled: true, enabledBy: 'needed by csi-hostpath-driver' },
      { enabled: true, enabledBy: 'loadBalancer.enabled' },
      { enabled: false },
      { enabled: false },
    ]);
  });

  it('shows enabled and installed per addon for a cluster, and why installed could not be checked', () => {
    const c = aCluster('dev').withAddon('metrics-server').withAddon('storage').build();
    const observed = { installed: [{ name: 'metrics-server', version: 'v0.7.2', specHash: 'h', contentHash: 'h', objects: 9, missing: ['Service kube-system/metrics-server'], foreign: [] }] };
    const rows = addonRows(c, observed);
    expect([row(rows, 'metrics-server'), row(rows, 'storage'), row(rows, 'ingress')].map((r) => [r.enabled, r.installed, r.missingObjects])).toEqual([
      [true, true, 1],
      [true, false, undefined],
      [false, false, undefined],
    ]);
    const text = formatAddonList({ cluster: { name: 'dev', spec: 'last-applied', bootstrap: 'kubeadm' }, addons: rows }).split('\n');
    expect(text[0]).toMatch(/^NAME +VERSION +ENABLED +INSTALLED +VERIFIED +DESCRIPTION$/);
    expect(text.find((l) => l.startsWith('metrics-server'))).toMatch(/^metrics-server +v\S+ +yes +yes, 1 object gone +running +Resource metrics API/);
    expect(text.find((l) => l.startsWith('storage'))).toMatch(/^storage +v\S+ +yes +no +running /);
    expect(text).toContain('ENABLED: from its last applied spec.');
    expect(text).toContain("INSTALLED: as the cluster's API server says.");

    const unchecked = formatAddonList({ cluster: { name: 'dev', spec: 'last-attempted', bootstrap: 'kubeadm' }, installedError: 'no control plane answers', addons: addonRows(c, { installed: [], error: 'no control plane answers' }) });
    expect(unchecked).toMatch(/^metrics-server +v\S+ +yes +\? +running /m);
    expect(unchecked).toContain('INSTALLED: not checked: no control plane answers.');
  });

  it('the catalog alone: no ENABLED or INSTALLED column, images under each addon, what each verification level means', () => {
    const text = formatAddonList({ addons: addonRows() });
    expect(text.split('\n')[0]).toMatch(/^NAME +VERSION +VERIFIED +DESCRIPTION$/);
    expect(text).toMatch(/^ +images: metrics-server=registry\.k8s\.io\/metrics-server\/metrics-server:/m);
    expect(text).toMatch(/^ {2}api-server +a real kube-apiserver accepts its objects/m);
    expect(text).toMatch(/^ {2}running +gateway-api, ingress: test\/e2e\/mk-ingress\.test\.ts: mk apply installs it/m);
    expect(text).toMatch(/^ {2}running +metallb, metrics-server, storage: test\/e2e\/mk-addons\.test\.ts: mk apply installs it/m);
    expect(text).toMatch(/^ {2}running +registry: test\/e2e\/mk-registry\.test\.ts: mk apply installs it/m);
    expect(text).toMatch(/^ {2}running +ingress-dns: test\/e2e\/mk-ingress-dns\.test\.ts: mk apply installs it/m);
    expect(text).toMatch(/^ +images: ingress-dns=registry\.k8s\.io\/coredns\/coredns:<tag the cluster runs>$/m);
  });

  it('a level with several details: each names its addons', () => {
    const rows = addonRows();
    const other = { ...row(rows, 'storage'), verified: { level: 'running' as const, detail: 'test/e2e/other.test.ts: a volume read back' } };
    const text = formatAddonList({ addons: [...rows.filter((r) => r.name !== 'storage'), other] });
    expect(text).toMatch(/^ {2}running +gateway-api, ingress: test\/e2e\/mk-ingress\.test\.ts: /m);
    expect(text).toMatch(/^ {2}running +storage: test\/e2e\/other\.test\.ts: a volume read back$/m);
    expect(text).toMatch(/^ {2}api-server +a real kube-apiserver/m);
  });
});
