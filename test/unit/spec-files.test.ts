// loadSpecs: files, directories, stdin, duplicates across files, and every example in clusters/.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SpecError, SpecFileError } from '../../src/errors.js';
import type { SpecProblem } from '../../src/errors.js';
import { loadSpecs } from '../../src/spec/load.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const cluster = (name: string, extra = ''): string =>
  `apiVersion: mk.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: ${name}\n${extra}`;

async function problems(promise: Promise<unknown>): Promise<SpecProblem[]> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof SpecError) return err.problems;
    throw err;
  }
  throw new Error('expected a SpecError');
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mk-spec-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadSpecs', () => {
  it('loads one file with an absolute file path', async () => {
    await writeFile(path.join(dir, 'a.yaml'), cluster('a'));
    const [loaded, ...rest] = await loadSpecs(path.join(dir, 'a.yaml'));
    expect(rest).toEqual([]);
    expect(loaded!.file).toBe(path.join(dir, 'a.yaml'));
    expect(loaded!.cluster.metadata.name).toBe('a');
  });

  it('loads every *.yaml and *.yml of a directory, sorted, not recursing, ignoring other files', async () => {
    await writeFile(path.join(dir, 'b.yml'), cluster('b'));
    await writeFile(path.join(dir, 'a.yaml'), `${cluster('a1')}---\n${cluster('a2')}`);
    await writeFile(path.join(dir, 'notes.txt'), 'not yaml: [');
    await mkdir(path.join(dir, 'sub'));
    await writeFile(path.join(dir, 'sub', 'c.yaml'), cluster('c'));
    const loaded = await loadSpecs(dir);
    expect(loaded.map((l) => [path.basename(l.file), l.cluster.metadata.name])).toEqual([
      ['a.yaml', 'a1'],
      ['a.yaml', 'a2'],
      ['b.yml', 'b'],
    ]);
  });

  it('refuses a directory without specs: not an invalid spec, a target without one', async () => {
    await writeFile(path.join(dir, 'README.md'), '# hi');
    const err = await loadSpecs(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpecFileError);
    expect((err as Error).message).toBe(`cannot read the spec: ${dir} is a directory without *.yaml or *.yml files (-f takes a cluster spec file, a directory of *.yaml specs, or - for standard input)`);
  });

  it('refuses a missing target as missing, named as given', async () => {
    const err = await loadSpecs('nope/cluster.yaml').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpecFileError);
    expect((err as Error).message).toMatch(/^cannot read the spec: nope\/cluster\.yaml does not exist \(-f takes/);
  });

  it('reads - from stdin and resolves references against the working directory', async () => {
    const text = cluster('piped', 'spec:\n  networking:\n    cni: cni/flannel.yaml\n');
    const [loaded] = await loadSpecs('-', { stdin: async () => text });
    expect(loaded!.file).toBe('-');
    expect(loaded!.cluster.metadata.name).toBe('piped');
    expect(loaded!.references).toEqual([path.resolve('cni/flannel.yaml')]);
  });

  it('reports stdin problems against -', async () => {
    const found = await problems(loadSpecs('-', { stdin: async () => cluster('Bad') }));
    expect(found.map((p) => [p.file, p.line, p.column, p.path])).toEqual([['-', 4, 9, 'metadata.name']]);
  });

  it('collects problems from every file into one error', async () => {
    await writeFile(path.join(dir, 'a.yaml'), cluster('a', 'spec:\n  cri: rkt\n'));
    await writeFile(path.join(dir, 'b.yaml'), 'apiVersion: [\n');
    await writeFile(path.join(dir, 'c.yaml'), cluster('c'));
    const found = await problems(loadSpecs(dir));
    expect(found.map((p) => [path.basename(p.file), p.line, p.column, p.path])).toEqual([
      ['a.yaml', 6, 8, 'spec.cri'],
      ['b.yaml', 2, 1, ''],
    ]);
  });

  it('refuses a cluster name defined in two files, naming both', async () => {
    await writeFile(path.join(dir, 'a.yaml'), cluster('same'));
    await writeFile(path.join(dir, 'b.yaml'), `# comment\n${cluster('same')}`);
    const found = await problems(loadSpecs(dir));
    expect(found).toEqual([
      {
        file: path.join(dir, 'b.yaml'),
        line: 5,
        column: 9,
        path: 'metadata.name',
        message: `cluster "same" is also defined in ${path.join(dir, 'a.yaml')}:4:9`,
      },
    ]);
  });
});

describe('clusters/ examples', () => {
  const examples = ['addons.yaml', 'dev.yaml', 'ha.yaml', 'loadbalancer.yaml', 'mesh.yaml', 'minimal.yaml', 'ssh.yaml'];

  it('loads and validates every file in clusters/', async () => {
    const loaded = await loadSpecs(path.join(repo, 'clusters'));
    expect(loaded.map((l) => path.basename(l.file))).toEqual(examples);
  });

  it.each(examples)('%s starts with the yaml-language-server schema comment', async (name) => {
    const { readFile } = await import('node:fs/promises');
    const text = await readFile(path.join(repo, 'clusters', name), 'utf8');
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=../schema/cluster.v1alpha1.json');
  });

  it('dev.yaml uses the node image npm run node-image:k8s builds for the test bed version, unprivileged, with 1 control plane and 2 workers', async () => {
    const [dev] = await loadSpecs(path.join(repo, 'clusters', 'dev.yaml'));
    const { readFile } = await import('node:fs/promises');
    const version = (await readFile(path.join(repo, 'test', 'k8s', 'VERSION'), 'utf8')).trim();
    expect(dev!.cluster.spec.kubernetesVersion).toBe(version);
    expect(dev!.cluster.spec.driver).toEqual({ name: 'docker', docker: { image: `mk.local/node:${version}`, privileged: false } });
    expect(dev!.cluster.spec.nodes.map((p) => [p.role, p.count])).toEqual([
      ['control-plane', 1],
      ['worker', 2],
    ]);
  });

  it('ha.yaml has three control planes; ssh.yaml uses the ssh driver; loadbalancer.yaml enables it', async () => {
    const byName = new Map((await loadSpecs(path.join(repo, 'clusters'))).map((l) => [path.basename(l.file), l.cluster]));
    expect(byName.get('ha.yaml')!.spec.nodes.filter((p) => p.role === 'control-plane').reduce((n, p) => n + p.count, 0)).toBe(3);
    expect(byName.get('ssh.yaml')!.spec.driver.name).toBe('ssh');
    expect(byName.get('loadbalancer.yaml')!.spec.loadBalancer.enabled).toBe(true);
    expect(Object.keys(byName.get('minimal.yaml')!)).toEqual(['apiVersion', 'kind', 'metadata', 'spec']);
  });
});
