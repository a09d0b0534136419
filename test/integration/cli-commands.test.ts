// The day-two commands through the CLI as a user runs them, against the real Docker engine: mk
// version, mk list / ls / get clusters, mk init then mk plan, mk schema, apply --dry-run, -o yaml,
// and the completion scripts loaded in bash, zsh and fish (cluster names from a real cluster).
import { execFile, spawnSync } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, MK, mk, ROOT } from '../helpers/cli.js';
import { docker, labelled, removeLabelled, testEnv, uniqueClusterName, writeSpec, type TestEnv } from './helpers.js';

const run = promisify(execFile);
const installed = (shell: string) => spawnSync('sh', ['-c', `command -v ${shell}`]).status === 0;
/** zsh and fish come from Debian (scripts/install-deps.sh); without them a local run skips their tests, CI fails them. */
const withShell = (shell: string) => (installed(shell) || process.env.CI ? it : it.skip);

describe('mk version, list, init, schema, completion and apply --dry-run', () => {
  let t: TestEnv;
  const name = uniqueClusterName('cmd');
  let file: string;
  /** PATH with an `mk` that runs this checkout's CLI, as completion scripts call it. */
  let path: string;

  beforeAll(async () => {
    await buildCli();
    t = await testEnv();
    file = await writeSpec(t.dir, name, 1);
    const bin = join(t.dir, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'mk'), `#!/bin/sh\nexec '${process.execPath}' '${MK}' "$@"\n`);
    await chmod(join(bin, 'mk'), 0o755);
    path = `${bin}:${process.env.PATH}`;
  });
  afterAll(async () => {
    await removeLabelled(name);
    await t.cleanup();
  });

  it('--version prints the version alone; version -o json|yaml adds the commit, Node, the Docker engine and the default Kubernetes version', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect((await mk(['--version'], t.env)).stdout).toBe(`${pkg.version}\n`);
    const json = await mk(['version', '-o', 'json'], t.env);
    expect(json.code, json.output).toBe(0);
    const v = JSON.parse(json.stdout) as { mk: { version: string; commit: string }; node: string; docker: { version: string }; kubernetes: { default: string } };
    expect(v.mk.version).toBe(pkg.version);
    expect(v.mk.commit).toMatch(/^[0-9a-f]{40}$/);
    await run('git', ['-C', ROOT, 'cat-file', '-e', `${v.mk.commit}^{commit}`]);
    expect(v.node).toBe(process.version);
    expect(v.docker.version).toBe((await docker.version()).Version);
    expect(v.kubernetes.default).toMatch(/^v1\.\d+\.\d+$/);
    expect(yaml.load((await mk(['version', '-o', 'yaml'], t.env)).stdout)).toEqual(v);
    const text = await mk(['version'], t.env);
    expect(text.stdout).toMatch(new RegExp(`^mk {10}${pkg.version.replace(/\./g, '\\.')} \\(commit ${v.mk.commit.slice(0, 12)}\\)\\nnode {8}${process.version}\\ndocker {6}${v.docker.version.replace(/[.+]/g, '\\$&')} \\(API [\\d.]+, unix://`));
  });

  it('version says when the Docker engine does not answer, and still exits 0', async () => {
    const r = await mk(['version'], { ...t.env, DOCKER_HOST: 'tcp://127.0.0.1:1' });
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toMatch(/^docker {6}not reachable: .+$/m);
  });

  it('apply --dry-run prints what plan prints, exits as plan does, and creates nothing', async () => {
    const plan = await mk(['plan', '-f', file], t.env);
    const dry = await mk(['apply', '--dry-run', '-f', file], t.env);
    expect(plan.code, plan.output).toBe(2);
    expect(dry.code, dry.output).toBe(2);
    expect(dry.stdout).toBe(plan.stdout);
    expect(dry.stdout).toContain(`+ create node ${name}-cp-1 (control plane)`);
    const events = (r: { stdout: string }) => r.stdout.split('\n').filter(Boolean).map((l) => ({ ...(JSON.parse(l) as object), ts: undefined }));
    expect(events(await mk(['apply', '--dry-run', '-f', file, '-o', 'json'], t.env))).toEqual(events(await mk(['plan', '-f', file, '-o', 'json'], t.env)));
    expect((await labelled(name)).containers).toEqual([]);
  });

  it('-o yaml: the plan as a YAML stream of events, status as one YAML document', async () => {
    const stream = await mk(['plan', '-f', file, '-o', 'yaml'], t.env);
    expect(stream.stdout.startsWith('---\n')).toBe(true);
    const docs = yaml.loadAll(stream.stdout) as Array<{ type: string; plan?: { steps: unknown[] } }>;
    expect(docs.map((d) => d.type)).toEqual(['plan']);
    expect(docs[0]!.plan!.steps.length).toBeGreaterThan(0);

    const apply = await mk(['apply', '-f', file], t.env);
    expect(apply.code, apply.output).toBe(0);
    const status = await mk(['status', name, '-o', 'yaml'], t.env);
    expect(status.code, status.output).toBe(0);
    const doc = yaml.load(status.stdout) as { clusters: Array<{ name: string; nodes: Array<{ name: string }> }> };
    expect(doc.clusters[0]!.nodes.map((n) => n.name)).toEqual([`${name}-cp-1`, `${name}-w-1`]);
  });

  it('list, ls and get clusters: one line per cluster; -o name, json and yaml', async () => {
    const text = await mk(['list'], t.env);
    expect(text.code, text.output).toBe(0);
    expect(text.stdout).toMatch(/^NAME\s+DRIVER\s+READY\s+KUBERNETES\s+HEALTH$/m);
    expect(text.stdout).toMatch(new RegExp(`^${name}\\s+docker\\s+2/2\\s+-\\s+ok$`, 'm'));
    const names = await mk(['ls', '-o', 'name'], t.env);
    expect(names.stdout.split('\n')).toContain(name);
    expect((await mk(['get', 'clusters', '-o', 'name'], t.env)).stdout).toBe(names.stdout);
    const mine = (doc: unknown) => (doc as { clusters: Array<{ name: string }> }).clusters.find((c) => c.name === name);
    const expected = { name, driver: 'docker', nodes: { ready: 2, total: 2 }, health: 'ok', problems: [] };
    expect(mine(JSON.parse((await mk(['get', 'clusters', '-o', 'json'], t.env)).stdout))).toEqual(expected);
    expect(mine(yaml.load((await mk(['list', '-o', 'yaml'], t.env)).stdout))).toEqual(expected);
    const refused = await mk(['status', '-o', 'name'], t.env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('-o name is for mk list (mk get clusters)');
  });

  it('init writes a starter spec and its schema, never over an existing file; mk plan refuses its addon until the image is at hand, then loads it from the engine', async () => {
    const dir = join(t.dir, 'init');
    await mkdir(dir);
    const cluster = uniqueClusterName('init');
    const init = await mk(['init', cluster, '--addon', 'metrics-server'], t.env, { cwd: dir });
    expect(init.code, init.output).toBe(0);
    expect(init.stdout).toContain(`wrote cluster.yaml (cluster "${cluster}") and cluster.v1alpha1.json`);
    const spec = await readFile(join(dir, 'cluster.yaml'), 'utf8');
    expect(spec.split('\n')[0]).toBe('# yaml-language-server: $schema=./cluster.v1alpha1.json');
    expect((await mk(['schema'], t.env)).stdout).toBe(await readFile(join(dir, 'cluster.v1alpha1.json'), 'utf8'));
    // The default spec plans a kubeadm cluster (the preflight is skipped: this host may not run privileged nodes).
    // No registry answers here and the engine lacks metrics-server's image: refused at plan time, saying how to get it.
    const plan = await mk(['plan', '-f', join(dir, 'cluster.yaml'), '--skip-preflight'], t.env);
    expect(plan.code, plan.output).toBe(1);
    expect(plan.stderr).toContain(`addon metrics-server: image metrics-server registry.k8s.io/metrics-server/metrics-server:v0.7.2@sha256:`);
    expect(plan.stderr).toContain('build a stand-in with npm run addon-images metrics-server and add images: { metrics-server: mk.local/addons/metrics-server:v0.7.2 } to addon metrics-server in spec.addons');
    // A stand-in the engine has (here a one-file image of the test's own) is loaded from it before the addon.
    const standIn = `mk.test/${cluster}-metrics:1`;
    const tar = join(dir, 'empty.tar');
    await run('tar', ['-cf', tar, '-T', '/dev/null']);
    await run('docker', ['import', tar, standIn]);
    try {
      await writeFile(join(dir, 'cluster.yaml'), spec.replace('    - name: metrics-server\n', `    - name: metrics-server\n      images:\n        metrics-server: ${standIn}\n`));
      const planned = await mk(['plan', '-f', join(dir, 'cluster.yaml'), '--skip-preflight'], t.env);
      expect(planned.code, planned.output).toBe(2);
      expect(planned.stdout).toContain(`+ create node ${cluster}-control-plane-1 (control plane)`);
      expect(planned.stdout).toContain(`+ kubeadm init on ${cluster}-control-plane-1`);
      expect(planned.stdout).toContain(`+ load image ${standIn} on node ${cluster}-control-plane-1  (new node; for addon metrics-server)`);
      expect(planned.stdout).toMatch(new RegExp(`\\+ install addon metrics-server  \\(.*; image metrics-server ${standIn} from the Docker engine at `));
    } finally {
      await run('docker', ['rmi', standIn]);
    }
    await writeFile(join(dir, 'cluster.yaml'), spec);
    const again = await mk(['init', cluster], t.env, { cwd: dir });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('cluster.yaml exists; mk init never overwrites a file');
    expect(await readFile(join(dir, 'cluster.yaml'), 'utf8')).toBe(spec);
  });

  describe('completion', () => {
    const script = async (shell: string) => {
      const f = join(t.dir, `mk.${shell}`);
      const r = await mk(['completion', shell], t.env);
      expect(r.code, r.output).toBe(0);
      await writeFile(f, r.stdout);
      return f;
    };
    const env = () => ({ ...t.env, PATH: path });

    it('bash: the script parses and registers mk; Tab completes commands, options, addons and cluster names', async () => {
      const f = await script('bash');
      await run('bash', ['-n', f]);
      expect((await run('bash', ['-c', `source '${f}' && complete -p mk`])).stdout.trim()).toBe('complete -F _mk mk');
      const complete = async (...words: string[]) => {
        const { stdout } = await run('bash', ['-c', `source '${f}'; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _mk; printf '%s\\n' "\${COMPREPLY[@]}"`, 'bash', 'mk', ...words], { env: env() });
        return stdout.split('\n').filter(Boolean);
      };
      expect((await complete('sta')).sort()).toEqual(['start', 'status']);
      expect(await complete('apply', '--dry')).toEqual(['--dry-run']);
      expect(await complete('-o', '')).toEqual(['text', 'json', 'yaml', 'name']);
      expect(await complete('init', '--addon', 'metrics')).toEqual(['metrics-server']);
      expect(await complete('completion', '')).toEqual(['bash', 'zsh', 'fish']);
      expect(await complete('-v', 'status', name.slice(0, -1))).toEqual([name]);
      expect(await complete('kubeconfig', '--switch', name)).toEqual([name]);
    });

    withShell('zsh')('zsh: the script parses; Tab completes commands and cluster names', async () => {
      const f = await script('zsh');
      await run('zsh', ['-n', f]);
      // Outside a completion widget: compsys' functions replaced by ones that print what they are given.
      const stubs = `compdef() { :; }; _describe() { print -l -- "\${(@P)4}"; }; compadd() { if [[ $1 == -a ]]; then print -l -- "\${(@P)2}"; else shift; print -l -- "$@"; fi; }; _files() { print _files "$@"; }`;
      const complete = async (...words: string[]) => {
        const { stdout } = await run('zsh', ['-c', `${stubs}; source '${f}'; words=(mk "$@"); CURRENT=$#words; _mk`, 'zsh', ...words], { env: env() });
        return stdout.split('\n').filter(Boolean);
      };
      expect(await complete('sta')).toContain('status:nodes, roles, state and addresses of one or all clusters, and what is out of sync');
      expect(await complete('status', '')).toContain(name);
      expect(await complete('plan', '-f', '')).toEqual(['_files']);
    });

    withShell('fish')('fish: the script parses; Tab completes commands and cluster names', async () => {
      const f = await script('fish');
      await run('fish', ['--no-execute', f]);
      const complete = async (line: string) => (await run('fish', ['-c', `source '${f}'; complete -C '${line}'`], { env: env() })).stdout.split('\n').filter(Boolean);
      expect(await complete('mk stat')).toEqual(['status\tnodes, roles, state and addresses of one or all clusters, and what is out of sync']);
      expect(await complete('mk logs ')).toContain(name);
      expect(await complete('mk get ')).toEqual(['cluster', 'clusters']);
    });
  });
});
