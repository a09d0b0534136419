// The pure parts of mk list, init, schema, version and completion, and the machine formats (-o json|yaml).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { completionScript, type CommandModel } from '../../src/commands/completion.js';
import { init, schemaText, SCHEMA_FILE, starterSpec } from '../../src/commands/init.js';
import { formatClusterList, summarizeCluster } from '../../src/commands/list.js';
import { formatVersions } from '../../src/commands/version.js';
import type { ObservedNode } from '../../src/drivers/types.js';
import { formatDocument, formatStreamEvent } from '../../src/output/format.js';
import { JsonReporter } from '../../src/output/reporters.js';
import { DEFAULT_KUBERNETES_VERSION } from '../../src/spec/defaults.js';
import { parseSpec } from '../../src/spec/load.js';
import { testContext } from '../helpers/context.js';
import { aCluster, observedOf } from './builders.js';

describe('-o json and -o yaml', () => {
  const doc = { clusters: [{ name: 'dev', nodes: { ready: 1, total: 2 }, skipped: undefined }] };

  it('print one document with the same fields in both formats', () => {
    expect(JSON.parse(formatDocument('json', doc))).toEqual({ clusters: [{ name: 'dev', nodes: { ready: 1, total: 2 } }] });
    expect(yaml.load(formatDocument('yaml', doc))).toEqual(JSON.parse(formatDocument('json', doc)));
    expect(formatDocument('yaml', doc)).not.toContain('skipped');
  });

  it('print a stream of events as NDJSON lines, or as YAML documents that each start with ---', () => {
    expect(formatStreamEvent('json', { type: 'info', message: 'a' })).toBe('{"type":"info","message":"a"}');
    const lines: string[] = [];
    const r = new JsonReporter({ verbose: 0, format: 'yaml', sink: { out: (l) => lines.push(l), err: () => {} }, now: () => new Date('2026-01-02T03:04:05Z') });
    r.emit({ type: 'info', cluster: 'dev', message: 'first' });
    r.emit({ type: 'warning', message: 'second: with a colon' });
    expect(lines[0]).toBe("---\nts: '2026-01-02T03:04:05.000Z'\ntype: info\ncluster: dev\nmessage: first");
    expect(yaml.loadAll(lines.join('\n'))).toEqual([
      { ts: '2026-01-02T03:04:05.000Z', type: 'info', cluster: 'dev', message: 'first' },
      { ts: '2026-01-02T03:04:05.000Z', type: 'warning', message: 'second: with a colon' },
    ]);
  });
});

describe('mk list: one line per cluster', () => {
  const ready = (n: ObservedNode, status = 'True', version = 'v1.36.3'): ObservedNode => ({ ...n, kubeadm: 'done', health: { kubelet: 'active', ready: { status }, version } });

  it('counts Ready nodes and reads the Kubernetes version the kubelets report', () => {
    const spec = aCluster('dev').withWorkers(2).build();
    const nodes = observedOf(spec).nodes.map((n, i) => ready(n, i === 2 ? 'False' : 'True'));
    const s = summarizeCluster('dev', 'docker', nodes, spec);
    expect(s).toEqual({ name: 'dev', driver: 'docker', nodes: { ready: 2, total: 3 }, kubernetesVersion: 'v1.36.3', health: 'not ok', problems: ['node dev-worker-2: NotReady'] });
    expect(summarizeCluster('dev', 'docker', nodes.map((n) => ready(n)), spec).health).toBe('ok');
  });

  it('falls back to the spec\'s version when no kubelet answers, and says when every node is stopped', () => {
    const spec = aCluster('dev').withWorkers(1).build();
    const nodes = observedOf(spec).nodes.map((n): ObservedNode => ({ ...n, state: 'stopped' }));
    expect(summarizeCluster('dev', 'docker', nodes, spec)).toEqual(expect.objectContaining({ nodes: { ready: 0, total: 2 }, kubernetesVersion: spec.spec.kubernetesVersion, health: 'stopped' }));
  });

  it('counts running nodes as ready in a cluster without Kubernetes, and shows no version', () => {
    const spec = aCluster('bare').withWorkers(1).withoutKubernetes().build();
    const s = summarizeCluster('bare', 'docker', observedOf(spec).nodes, spec);
    expect(s).toEqual({ name: 'bare', driver: 'docker', nodes: { ready: 2, total: 2 }, health: 'ok', problems: [] });
  });

  it('without a spec, a node kubeadm finished on says the cluster runs Kubernetes; one it did not is a problem', () => {
    const nodes = observedOf(aCluster('x').withWorkers(1).build()).nodes;
    const s = summarizeCluster('x', 'ssh', [ready(nodes[0]!, 'True', 'v1.35.0'), nodes[1]!], undefined);
    expect(s).toEqual(expect.objectContaining({ nodes: { ready: 1, total: 2 }, kubernetesVersion: 'v1.35.0', health: 'not ok', problems: ['node x-worker-1: Kubernetes not set up'] }));
  });

  it('prints a table', () => {
    const spec = aCluster('dev').build();
    expect(formatClusterList([summarizeCluster('dev', 'docker', observedOf(spec).nodes.map((n) => ready(n)), spec), summarizeCluster('web', 'ssh', [], undefined)]).split('\n')).toEqual([
      'NAME  DRIVER  READY  KUBERNETES  HEALTH',
      'dev   docker  1/1    v1.36.3     ok',
      'web   ssh     0/0    -           no nodes',
    ]);
  });
});

describe('mk init', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mk-init-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a valid spec of the default version, with a modeline naming the schema written next to it', async () => {
    const file = join(dir, 'specs', 'cluster.yaml');
    const ctx = testContext();
    expect(await init(ctx, { name: 'web', file, addons: ['metrics-server'] })).toBe(0);
    const text = await readFile(file, 'utf8');
    expect(text.split('\n')[0]).toBe(`# yaml-language-server: $schema=./${SCHEMA_FILE}`);
    expect(await readFile(join(dir, 'specs', SCHEMA_FILE), 'utf8')).toBe(schemaText());
    const { cluster } = parseSpec(text, file);
    expect(cluster.metadata.name).toBe('web');
    expect(cluster.spec.kubernetesVersion).toBe(DEFAULT_KUBERNETES_VERSION);
    expect(cluster.spec.nodes.map((p) => [p.role, p.count])).toEqual([['control-plane', 1], ['worker', 1]]);
    expect(cluster.spec.addons.map((a) => a.name)).toEqual(['metrics-server']);
    expect(ctx.lines).toEqual([`wrote ${file} (cluster "web") and ${join(dir, 'specs', SCHEMA_FILE)} (the schema its first line names, for editors)`, `next: mk plan -f ${file}, then mk apply -f ${file}`]);
  });

  it('never overwrites a spec, and leaves a schema file that differs alone with a warning', async () => {
    const file = join(dir, 'cluster.yaml');
    await writeFile(file, 'mine\n');
    await expect(init(testContext(), { name: 'dev', file, addons: [] })).rejects.toThrow(`${file} exists; mk init never overwrites a file`);
    expect(await readFile(file, 'utf8')).toBe('mine\n');

    await writeFile(join(dir, SCHEMA_FILE), '{}\n');
    const ctx = testContext();
    await init(ctx, { name: 'dev', file: join(dir, 'other.yaml'), addons: [] });
    expect(await readFile(join(dir, SCHEMA_FILE), 'utf8')).toBe('{}\n');
    expect(ctx.reporter.events).toContainEqual(expect.objectContaining({ type: 'warning', message: expect.stringContaining(`mk schema > ${join(dir, SCHEMA_FILE)} replaces it`) }));
  });

  it('refuses a name or addon the spec would refuse, writing nothing', async () => {
    const file = join(dir, 'cluster.yaml');
    await expect(init(testContext(), { name: 'Dev_1', file, addons: ['metrics-servr'] })).rejects.toThrow(/would write an invalid spec:\n {2}metadata\.name: .*\n {2}spec\.addons\[0\]\.name: "metrics-servr"/);
    await expect(readFile(file)).rejects.toThrow(/ENOENT/);
  });

  it('starter spec without addons leaves them as a commented example', () => {
    const text = starterSpec('dev', []);
    expect(text).toContain('  # addons:\n  #   - name: metrics-server');
    expect(parseSpec(text, 'cluster.yaml').cluster.spec.addons).toEqual([]);
  });
});

describe('mk version', () => {
  it('says when the Docker engine did not answer', () => {
    const text = formatVersions({ mk: { version: '0.1.0', commit: 'unknown' }, node: 'v20.19.0', docker: { error: 'no answer within 3 s' }, kubernetes: { default: 'v1.36.3' } });
    expect(text.split('\n')).toEqual([
      'mk          0.1.0 (commit unknown)',
      'node        v20.19.0',
      'docker      not reachable: no answer within 3 s',
      'kubernetes  v1.36.3 (default for specs that name none)',
    ]);
  });
});

describe('mk completion', () => {
  const root: CommandModel = {
    name: 'mk',
    aliases: [],
    description: 'mk',
    flags: [{ names: ['-o', '--output'], description: "it's the format", value: ['text', 'json'] }],
    args: [],
    variadic: false,
    commands: [
      { name: 'list', aliases: ['ls'], description: 'list', flags: [], args: [], variadic: false, commands: [] },
      { name: 'addons', aliases: [], description: 'addons', flags: [], args: [], variadic: false, commands: [{ name: 'list', aliases: [], description: 'the catalog', flags: [{ names: ['--cluster'], description: 'c', value: 'cluster' }], args: ['cluster'], variadic: false, commands: [] }] },
    ],
  };

  it('bash: a table entry for every spelling of every command path, and the values of its options', () => {
    const script = completionScript('bash', root, ['storage', 'metallb']);
    expect(script).toContain("    'list'|'ls')\n");
    expect(script).toContain("    'addons list')\n");
    expect(script).toContain("    'addons list|--cluster') echo 'cluster' ;;\n");
    expect(script).toContain("    *'|-o'|*'|--output') echo 'choice:text,json' ;;\n");
    expect(script).toContain("compgen -W 'metallb storage'");
    expect(script.trimEnd().endsWith('complete -F _mk mk')).toBe(true);
  });

  it('zsh and fish: descriptions quoted for their shell', () => {
    expect(completionScript('zsh', root, [])).toContain(`_mk_flags_desc='-o:it'\\''s the format\n--output:it'\\''s the format'`);
    expect(completionScript('fish', root, [])).toContain(`set -g __mk_flags_desc 'it\\'s the format' 'it\\'s the format'`);
  });
});
