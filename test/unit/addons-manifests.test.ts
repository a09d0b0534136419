// User manifests: path checks with real temp dirs and symlinks, multi-document parsing, and the
// sha256-verified download with an injectable fetch (no network here).
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchReleaseFiles, renderAddon } from '../../src/addons/render.js';
import { aCluster } from './builders.js';
import { zipMembers } from '../../src/manifests/zip.js';
import { fetchVerified, isInside, loadLocalManifests, parseManifests, resolveLocalManifests, sha256Hex, type Fetcher } from '../../src/manifests/load.js';

const CM = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: default\n`;

describe('local manifests stay inside the spec folder', () => {
  let root: string;
  let spec: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'mk-manifests-'));
    spec = path.join(root, 'spec');
    await mkdir(path.join(spec, 'app', 'sub'), { recursive: true });
    await writeFile(path.join(spec, 'app', 'b.yaml'), CM('b'));
    await writeFile(path.join(spec, 'app', 'a.yml'), `${CM('a1')}---\n${CM('a2')}`);
    await writeFile(path.join(spec, 'app', 'sub', 'c.json'), JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }));
    await writeFile(path.join(spec, 'app', 'README.md'), '# not a manifest');
    await writeFile(path.join(root, 'secret.yaml'), CM('outside'));
    await mkdir(path.join(root, 'elsewhere'));
    await writeFile(path.join(root, 'elsewhere', 'x.yaml'), CM('x'));
    await symlink(path.join(root, 'secret.yaml'), path.join(spec, 'link-out.yaml'));
    await symlink(path.join(root, 'elsewhere'), path.join(spec, 'dir-out'));
    await mkdir(path.join(spec, 'sneaky'));
    await symlink(path.join(root, 'secret.yaml'), path.join(spec, 'sneaky', 'inner.yaml'));
    await symlink(path.join(spec, 'app', 'b.yaml'), path.join(spec, 'link-in.yaml'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('reads a folder: every .yaml/.yml/.json, recursively, sorted; other files ignored', async () => {
    const files = await resolveLocalManifests(spec, 'app');
    expect(files.map((f) => path.relative(spec, f))).toEqual(['app/a.yml', 'app/b.yaml', 'app/sub/c.json']);
    const objs = await loadLocalManifests(spec, 'app/');
    expect(objs.map((o) => o.metadata.name)).toEqual(['a1', 'a2', 'b', 'c']);
  });

  it('refuses .. escapes, absolute paths, and symlinks (file, folder, or inside a folder) that leave it', async () => {
    await expect(resolveLocalManifests(spec, '../secret.yaml')).rejects.toThrow(/outside the spec's folder/);
    await expect(resolveLocalManifests(spec, 'app/../../secret.yaml')).rejects.toThrow(/outside the spec's folder/);
    await expect(resolveLocalManifests(spec, path.join(root, 'secret.yaml'))).rejects.toThrow(/must be relative/);
    await expect(resolveLocalManifests(spec, 'link-out.yaml')).rejects.toThrow(/through a symlink/);
    await expect(resolveLocalManifests(spec, 'dir-out')).rejects.toThrow(/through a symlink/);
    await expect(resolveLocalManifests(spec, 'sneaky')).rejects.toThrow(/"sneaky\/inner\.yaml" resolves to .*secret\.yaml, outside/);
    await expect(resolveLocalManifests(spec, 'missing.yaml')).rejects.toThrow(/not found/);
  });

  it('refuses a kustomization (a folder holding one, or the file itself), naming the way out', async () => {
    await mkdir(path.join(spec, 'kust', 'base'), { recursive: true });
    await writeFile(path.join(spec, 'kust', 'base', 'kustomization.yaml'), 'resources: [cm.yaml]\n');
    await writeFile(path.join(spec, 'kust', 'base', 'cm.yaml'), CM('k'));
    await expect(resolveLocalManifests(spec, 'kust')).rejects.toThrow(/"kust\/base\/kustomization\.yaml" is a kustomization .*kubectl kustomize/);
    await expect(resolveLocalManifests(spec, 'kust/base/kustomization.yaml')).rejects.toThrow(/is a kustomization/);
    expect((await resolveLocalManifests(spec, 'kust/base/cm.yaml')).map((f) => path.basename(f))).toEqual(['cm.yaml']);
  });

  it('accepts a symlink that stays inside, and the spec folder given through a symlink', async () => {
    expect(await resolveLocalManifests(spec, 'link-in.yaml')).toEqual([path.join(await import('node:fs/promises').then((m) => m.realpath(spec)), 'app', 'b.yaml')]);
    await symlink(spec, path.join(root, 'spec-link'));
    expect((await loadLocalManifests(path.join(root, 'spec-link'), 'app/b.yaml')).map((o) => o.metadata.name)).toEqual(['b']);
  });

  it('isInside is a path check, not a prefix check', () => {
    expect(isInside('/a/b', '/a/b')).toBe(true);
    expect(isInside('/a/b', '/a/b/c')).toBe(true);
    expect(isInside('/a/b', '/a/bc')).toBe(false);
    expect(isInside('/a/b', '/a')).toBe(false);
  });
});

describe('parseManifests', () => {
  it('skips empty documents and flattens Lists', () => {
    const text = `---\n# nothing\n---\n${CM('a')}---\napiVersion: v1\nkind: List\nitems:\n  - ${JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' } })}\n`;
    expect(parseManifests(text, 'x.yaml').map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(['ConfigMap/a', 'Secret/s']);
  });
  it('names the document of a problem', () => {
    expect(() => parseManifests(`${CM('a')}---\nkind: ConfigMap\nmetadata: { name: b }\n`, 'x.yaml')).toThrow(/x\.yaml document 2: a Kubernetes object needs apiVersion, kind and metadata.name/);
    expect(() => parseManifests('a: [', 'bad.yaml')).toThrow(/bad\.yaml: invalid YAML/);
    expect(() => parseManifests('apiVersion: v1\nkind: Pod\nmetadata:\n  generateName: p-\n  name: ""\n', 'g.yaml')).toThrow(/needs apiVersion/);
  });
});

describe('fetchVerified (sha256)', () => {
  let cacheDir: string;
  const body = CM('remote');
  const good = sha256Hex(body);
  const fetcher = (text: string, calls: string[]): Fetcher => async (url) => {
    calls.push(url);
    return { ok: true, status: 200, arrayBuffer: async () => new TextEncoder().encode(text).buffer as ArrayBuffer };
  };
  beforeAll(async () => {
    cacheDir = await mkdtemp(path.join(tmpdir(), 'mk-addon-cache-'));
  });
  afterAll(async () => {
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('refuses a mismatch and caches nothing', async () => {
    const calls: string[] = [];
    await expect(fetchVerified('https://example.com/a.yaml', good, { cacheDir, fetch: fetcher(`${body}# tampered\n`, calls) })).rejects.toThrow(/sha256 mismatch: expected [0-9a-f]{64}, got [0-9a-f]{64}; refusing/);
    await expect(readFile(path.join(cacheDir, good))).rejects.toThrow();
  });

  it('downloads, verifies, caches under <sha256>; then serves the cache without fetching', async () => {
    const calls: string[] = [];
    expect(await fetchVerified('https://example.com/a.yaml', good, { cacheDir, fetch: fetcher(body, calls) })).toBe(body);
    expect(await readFile(path.join(cacheDir, good), 'utf8')).toBe(body);
    expect(await fetchVerified('https://example.com/a.yaml', good, { cacheDir, fetch: fetcher('never', calls) })).toBe(body);
    expect(calls).toEqual(['https://example.com/a.yaml']);
  });

  it('re-downloads when the cached file was tampered with', async () => {
    await writeFile(path.join(cacheDir, good), 'tampered');
    const calls: string[] = [];
    expect(await fetchVerified('https://example.com/a.yaml', good, { cacheDir, fetch: fetcher(body, calls) })).toBe(body);
    expect(calls).toHaveLength(1);
  });

  it('refuses http:// (unless a test allows it), bad digests and HTTP errors', async () => {
    await expect(fetchVerified('http://example.com/a.yaml', good, { cacheDir })).rejects.toThrow(/only https/);
    await expect(fetchVerified('https://example.com/a.yaml', 'abc', { cacheDir })).rejects.toThrow(/not 64 lowercase hex/);
    const notFound: Fetcher = async () => ({ ok: false, status: 404, arrayBuffer: async () => new ArrayBuffer(0) });
    await expect(fetchVerified('https://example.com/b.yaml', 'b'.repeat(64), { cacheDir, fetch: notFound })).rejects.toThrow(/HTTP 404/);
  });

  it('a catalog addon\'s release files: each from <base>/<path> (or the mirror), by key; istio refuses bytes that are not its pinned release', async () => {
    const files = { a: { path: 'x/a.yaml', sha256: sha256Hex('A') }, b: { path: 'b.yaml', sha256: sha256Hex('B') } };
    const calls: string[] = [];
    const byName: Fetcher = async (url) => {
      calls.push(url);
      return { ok: true, status: 200, arrayBuffer: async () => new TextEncoder().encode(url.endsWith('a.yaml') ? 'A' : 'B').buffer as ArrayBuffer };
    };
    const dir = await mkdtemp(path.join(cacheDir, 'release-'));
    expect(await fetchReleaseFiles({ baseUrl: 'https://up.example/r/1.0', files }, undefined, { cacheDir: dir, fetch: byName })).toEqual({ a: 'A', b: 'B' });
    expect(calls).toEqual(['https://up.example/r/1.0/x/a.yaml', 'https://up.example/r/1.0/b.yaml']);
    calls.length = 0;
    await rm(dir, { recursive: true });
    await fetchReleaseFiles({ baseUrl: 'https://up.example/r/1.0', files }, 'https://mirror.example/istio/', { cacheDir: dir, fetch: byName });
    expect(calls).toEqual(['https://mirror.example/istio/x/a.yaml', 'https://mirror.example/istio/b.yaml']);

    calls.length = 0;
    const istio = { name: 'istio', enabled: true, options: {} };
    await expect(renderAddon(istio, aCluster('dev').build(), { specDir: cacheDir, fetch: { cacheDir: dir, fetch: byName } })).rejects.toThrow(
      /^addon istio: release files: https:\/\/raw\.githubusercontent\.com\/istio\/istio\/1\.30\.3\/manifests\/charts\/base\/files\/crd-all\.gen\.yaml: sha256 mismatch/,
    );
    expect(calls).toHaveLength(1);

    // Unreachable: the URL, the reason, and the way out.
    const offline: Fetcher = async () => {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('getaddrinfo EAI_AGAIN raw.githubusercontent.com'), { code: 'EAI_AGAIN' }) });
    };
    await expect(renderAddon(istio, aCluster('dev').build(), { specDir: cacheDir, fetch: { cacheDir: dir, fetch: offline } })).rejects.toThrow(
      /^addon istio: release files: https:\/\/raw\.githubusercontent\.com\/\S+: fetch failed \(EAI_AGAIN\); without access to it, set options\.releaseMirror/,
    );
  });

  it('release files from a zip archive (a Go module zip): the members named, in that order, as one YAML stream; a member it lacks is named', async () => {
    const calls: string[] = [];
    const served: Fetcher = async (url) => {
      calls.push(url);
      return { ok: true, status: 200, arrayBuffer: async () => new Uint8Array(ZIP).buffer };
    };
    const dir = await mkdtemp(path.join(cacheDir, 'zip-'));
    const fetched = (members: string[]) => ({ baseUrl: 'https://proxy.example/m/@v', files: { crds: { path: 'v1.zip', sha256: sha256Hex(ZIP), members } } });
    expect(await fetchReleaseFiles(fetched(['m@v1/b.yaml', 'm@v1/a.yaml']), undefined, { cacheDir: dir, fetch: served })).toEqual({ crds: 'kind: B\n\n---\nkind: A\n' });
    expect(calls).toEqual(['https://proxy.example/m/@v/v1.zip']); // then from the cache
    await expect(fetchReleaseFiles(fetched(['m@v1/a.yaml', 'm@v1/nope.yaml']), undefined, { cacheDir: dir, fetch: served })).rejects.toThrow('https://proxy.example/m/@v/v1.zip: the archive has no member m@v1/nope.yaml');
  });
});

/** Made by Python's zipfile: a deflated and a stored YAML member, a deflated binary one, and an archive comment. */
const ZIP = Buffer.from(
  'UEsDBBQAAAAIAAAAIQBqHK0GCgAAAAgAAAALAAAAbUB2MS9hLnlhbWzLzsxLsVJw5AIAUEsDBBQAAAAAAAAAIQCpT4AtCAAAAAgAAAALAAAAbUB2MS9iLnlhbWxraW5kOiBCClBLAwQUAAAACAAAACEAVtRBiwoAAABYAgAACgAAAG1AdjEvYy5iaW5jYGQYhaOQ6hAAUEsBAhQDFAAAAAgAAAAhAGocrQYKAAAACAAAAAsAAAAAAAAAAAAAAIABAAAAAG1AdjEvYS55YW1sUEsBAhQDFAAAAAAAAAAhAKlPgC0IAAAACAAAAAsAAAAAAAAAAAAAAIABMwAAAG1AdjEvYi55YW1sUEsBAhQDFAAAAAgAAAAhAFbUQYsKAAAAWAIAAAoAAAAAAAAAAAAAAIABZAAAAG1AdjEvYy5iaW5QSwUGAAAAAAMAAwCqAAAAlgAAAB0AbWFkZSBieSBweXRob24gemlwZmlsZSBmb3IgbWs=',
  'base64',
);

describe('zipMembers', () => {
  it('reads stored and deflated members by name, past an archive comment', () => {
    const [a, bin, b] = zipMembers(ZIP, ['m@v1/a.yaml', 'm@v1/c.bin', 'm@v1/b.yaml']);
    expect(a!.toString()).toBe('kind: A\n');
    expect(b!.toString()).toBe('kind: B\n');
    expect(bin).toEqual(Buffer.from(new Uint8Array(600).map((_, i) => i % 2)));
  });

  it('refuses what is not a zip, and damaged entries', () => {
    expect(() => zipMembers(Buffer.from('kind: A\n'.repeat(10)), ['a'])).toThrow(/not a zip archive/);
    const damaged = Buffer.from(ZIP);
    damaged.writeUInt32LE(0, ZIP.indexOf(Buffer.from('PK\x01\x02', 'latin1')));
    expect(() => zipMembers(damaged, ['m@v1/a.yaml'])).toThrow(/central directory entry 0 is damaged/);
  });
});
