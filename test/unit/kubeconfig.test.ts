import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  entryFromAdminConf,
  kubeconfigPath,
  mergeEntry,
  removeEntry,
  updateKubeconfig,
  type KubeconfigDoc,
  type KubeconfigEntry,
} from '../../src/kubeadm/kubeconfig.js';

const entry = (name = 'mk-dev', port = 32768): KubeconfigEntry => ({
  name,
  server: `https://127.0.0.1:${port}`,
  certificateAuthorityData: 'Q0E=',
  clientCertificateData: 'Q0VSVA==',
  clientKeyData: 'S0VZ',
});

const users: KubeconfigDoc = {
  apiVersion: 'v1',
  kind: 'Config',
  clusters: [{ name: 'prod', cluster: { server: 'https://prod.example:6443' } }],
  users: [{ name: 'prod-admin', user: { token: 'secret' } }],
  contexts: [{ name: 'prod', context: { cluster: 'prod', user: 'prod-admin' } }],
  'current-context': 'prod',
};

describe('kubeconfig documents (pure)', () => {
  it('KUBECONFIG: the first non-empty entry wins, else ~/.kube/config', () => {
    expect(kubeconfigPath({ KUBECONFIG: '/a/config:/b/config' }, '/home/u')).toBe('/a/config');
    expect(kubeconfigPath({ KUBECONFIG: ':/b/config' }, '/home/u')).toBe('/b/config');
    expect(kubeconfigPath({}, '/home/u')).toBe('/home/u/.kube/config');
  });

  it('adds mk-<cluster> beside the user entries and keeps their current context unless asked', () => {
    const merged = mergeEntry(users, entry(), { setCurrent: false });
    expect(merged.clusters?.map((c) => c.name)).toEqual(['mk-dev', 'prod']);
    expect(merged.users?.find((u) => u.name === 'prod-admin')).toEqual(users.users![0]);
    expect(merged.contexts?.find((c) => c.name === 'mk-dev')?.context).toEqual({ cluster: 'mk-dev', user: 'mk-dev' });
    expect(merged['current-context']).toBe('prod');
    expect(mergeEntry(users, entry(), { setCurrent: true })['current-context']).toBe('mk-dev');
    expect(mergeEntry(undefined, entry(), { setCurrent: false })['current-context']).toBe('mk-dev');
  });

  it('replaces its own entry in place (a new port after a re-create) without duplicates', () => {
    const once = mergeEntry(users, entry('mk-dev', 1111), { setCurrent: false });
    const twice = mergeEntry(once, entry('mk-dev', 2222), { setCurrent: false });
    expect(twice.clusters?.filter((c) => c.name === 'mk-dev')).toEqual([
      { name: 'mk-dev', cluster: { server: 'https://127.0.0.1:2222', 'certificate-authority-data': 'Q0E=' } },
    ]);
  });

  it('removes only its own entry and clears the current context only if it was mk\'s', () => {
    const merged = mergeEntry(users, entry(), { setCurrent: true });
    const removed = removeEntry(merged, 'mk-dev')!;
    expect(removed.clusters?.map((c) => c.name)).toEqual(['prod']);
    expect(removed.users?.map((c) => c.name)).toEqual(['prod-admin']);
    expect(removed['current-context']).toBeUndefined();
    expect(removeEntry(users, 'mk-dev')).toEqual(users);
  });

  it('reads certificates from a kubeadm admin.conf and points it at the published port', () => {
    const admin = yaml.dump({
      clusters: [{ name: 'kubernetes', cluster: { server: 'https://172.28.0.2:6443', 'certificate-authority-data': 'Q0E=' } }],
      users: [{ name: 'kubernetes-admin', user: { 'client-certificate-data': 'Q0VSVA==', 'client-key-data': 'S0VZ' } }],
    });
    expect(entryFromAdminConf(admin, 'mk-dev', 'https://127.0.0.1:32768')).toEqual(entry());
    expect(() => entryFromAdminConf('clusters: []', 'mk-dev', 'x')).toThrow(/lacks/);
  });
});

describe('updateKubeconfig (real files)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mk-kc-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes 0600 atomically, keeps other entries, and serialises concurrent writers', async () => {
    const path = join(dir, 'nested', 'config');
    await updateKubeconfig(path, () => users);
    await Promise.all(['a', 'b', 'c', 'd'].map((c, i) => updateKubeconfig(path, (doc) => mergeEntry(doc, entry(`mk-${c}`, 3000 + i), { setCurrent: false }))));
    const doc = yaml.load(await readFile(path, 'utf8')) as KubeconfigDoc;
    expect(doc.contexts?.map((c) => c.name)).toEqual(['mk-a', 'mk-b', 'mk-c', 'mk-d', 'prod']);
    expect(doc['current-context']).toBe('prod');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('refuses to touch a file that is not a kubeconfig mapping', async () => {
    const path = join(dir, 'config');
    await writeFile(path, '- not\n- a mapping\n');
    await expect(updateKubeconfig(path, (doc) => mergeEntry(doc, entry(), { setCurrent: false }))).rejects.toThrow(/not a kubeconfig/);
    expect(await readFile(path, 'utf8')).toBe('- not\n- a mapping\n');
  });
});
