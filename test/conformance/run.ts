// npm run conformance: Kubernetes conformance (e2e.test through ginkgo) on an mk cluster of one
// control plane and two workers, with the test images built here loaded by mk (spec.images).
//
//   npm run conformance -- [--serial] [--driver docker|ssh] [--focus RE]... [--skip RE]... [--procs N] [--name cf-NAME]
//                          [--report-dir DIR] [--keep-cluster] [--no-build] [--timeout 6h] [--dry-run] [--rerun DIR]
//
// --driver ssh: the nodes are three ssh hosts (containers of test/k8s/ssh-host-image.sh, as in
// test/e2e/ssh-cluster.test.ts) instead of Docker nodes; they are removed with the cluster.
// --dry-run: build, select and derive the image skips, write the report; no cluster, no specs run.
// --rerun DIR: only the specs that failed in DIR/summary.json (added as one more focus).
//
// Writes DIR/{junit.xml, report.json, summary.json, summary.md, dry-run.json, ginkgo.log, cluster.yaml}.
// Exit code: 0 when no selected spec failed.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseManifest } from './framework-images.js';
import { namesRegex, parseReport } from './ginkgo-report.js';
import { PULL_ALWAYS, imageUsers } from './image-users.js';
import { summarize, toMarkdown, type Summary } from './summary.js';
import { unavailableImages } from './unavailable.js';
import { clusterYaml, controlPlanes, dockerDriver, sshDriver, workers, type DriverSpec, type PoolSpec } from '../helpers/spec.js';
import { SshK8sHosts } from '../k8s/ssh-hosts.js';

// npm runs scripts in the package root; run-ts.mjs bundles this file elsewhere, so no import.meta here.
const ROOT = process.cwd();

const { values: opt } = parseArgs({
  options: {
    serial: { type: 'boolean', default: false },
    driver: { type: 'string', default: 'docker' },
    focus: { type: 'string', multiple: true, default: [] },
    skip: { type: 'string', multiple: true, default: [] },
    // The specs mostly wait on the cluster: 8 processes took 15 min here, 2 took 52.
    procs: { type: 'string', default: '8' },
    name: { type: 'string', default: 'cf-conformance' },
    'report-dir': { type: 'string' },
    'keep-cluster': { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    timeout: { type: 'string', default: '6h' },
    'dry-run': { type: 'boolean', default: false },
    rerun: { type: 'string' },
  },
});

const log = (m: string) => console.error(`[conformance ${new Date().toISOString().slice(11, 19)}] ${m}`);

interface Ran {
  code: number;
  stdout: string;
}

let interrupted: NodeJS.Signals | undefined;
const children = new Set<ReturnType<typeof spawn>>();
// Ctrl-C or a CI timeout: stop the running step, then still delete the cluster and write the report.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = sig;
    log(`${sig}: stopping the running step; the cluster is deleted and the report written next`);
    for (const c of children) c.kill(sig);
  });
}

/** Runs argv; stdout is captured (and echoed to `tee` if given), stderr goes to ours. */
function run(argv: string[], o: { env?: NodeJS.ProcessEnv; capture?: boolean; tee?: NodeJS.WritableStream; check?: boolean } = {}): Promise<Ran> {
  return new Promise((done, fail) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, env: o.env ?? process.env, stdio: ['ignore', o.capture || o.tee ? 'pipe' : 'inherit', o.tee ? 'pipe' : 'inherit'] });
    children.add(child);
    let stdout = '';
    child.stdout?.on('data', (d: Buffer) => {
      if (o.capture) stdout += d.toString();
      if (o.tee) {
        o.tee.write(d);
        process.stdout.write(d);
      }
    });
    child.stderr?.on('data', (d: Buffer) => {
      o.tee?.write(d);
      process.stderr.write(d);
    });
    child.on('error', fail);
    child.on('close', (code) => {
      children.delete(child);
      if (o.check !== false && code !== 0) fail(new Error(`${argv.join(' ')} exited ${code}`));
      else done({ code: code ?? 1, stdout });
    });
  });
}

async function goFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith('.go')) out.push(join(e.parentPath, e.name));
  }
  return out;
}

/** The cluster: one control plane and two workers, Docker nodes or the ssh hosts, with the test images listed. */
function clusterSpec(name: string, version: string, driver: DriverSpec, nodes: PoolSpec[], images: readonly string[]): string {
  const docker = driver.name === 'docker';
  return clusterYaml({
    name,
    kubernetesVersion: version,
    driver,
    nodes,
    networking: { podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12', cni: 'auto', ...(docker ? { apiServerPort: 0 } : {}) },
    images: [...images],
  });
}

async function main(): Promise<number> {
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  const timed = async <T>(label: string, f: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    try {
      return await f();
    } finally {
      timings[label] = (Date.now() - t) / 1000;
      log(`${label}: ${timings[label]!.toFixed(0)} s`);
    }
  };
  if (opt.driver !== 'docker' && opt.driver !== 'ssh') throw new Error(`--driver ${opt.driver}: docker or ssh`);
  if (!opt.name.startsWith('cf-') && !process.env.MK_CONFORMANCE_ANY_NAME) log(`note: cluster name ${opt.name}`);
  const version = (await readFile(join(ROOT, 'test/k8s/VERSION'), 'utf8').catch(() => {
    throw new Error(`no test/k8s/VERSION in ${ROOT}: run from the repository root (npm run conformance)`);
  })).trim();
  const cache = process.env.MK_CACHE ?? join(homedir(), '.cache/mk');
  const confDir = join(cache, 'conformance', version);
  const gomod = join(process.env.MK_K8S_CACHE ?? join(cache, 'k8s'), version, 'gomod');
  const k8sSrc = join(gomod, `k8s.io/kubernetes@${version}`);
  const bin = join(confDir, 'bin');
  const mode = opt.serial ? 'serial' : 'parallel';
  const reportDir = resolve(opt['report-dir'] ?? join('conformance-report', `${new Date().toISOString().replace(/[:.]/g, '-')}-${mode}`));
  await mkdir(reportDir, { recursive: true });
  log(`report: ${reportDir}`);

  if (!opt['no-build']) await timed('build', () => run(['bash', 'scripts/conformance-build.sh']));
  const built = (await readFile(join(confDir, 'images.list'), 'utf8')).split('\n').filter(Boolean);
  /** Builds (or finds) an image with one of test/k8s's scripts; returns the tag it printed last. */
  const testImage = (label: string, script: string) =>
    timed(label, async () => {
      const out = (await run(['bash', `test/k8s/${script}`], { capture: true })).stdout.trim().split('\n').pop();
      if (!out) throw new Error(`test/k8s/${script} printed no image tag`);
      return out;
    });
  const nodeImage = await testImage('node image', 'node-image.sh');
  const kubeadmImages = (await run([join(cache, 'k8s', version, 'bin/kubeadm'), 'config', 'images', 'list', '--kubernetes-version', version], { capture: true })).stdout
    .split('\n')
    .filter(Boolean);

  // The selection, and which of its specs need an image that is not available.
  if (opt.rerun) {
    const prev = JSON.parse(await readFile(join(opt.rerun, 'summary.json'), 'utf8')) as Summary;
    if (prev.failed.length === 0) throw new Error(`${opt.rerun}/summary.json lists no failed spec`);
    opt.focus.push(namesRegex(prev.failed.map((f) => f.name)));
  }
  const labelFilter = opt.serial ? 'Conformance && Serial' : 'Conformance && !Serial';
  const selectArgs = [`--ginkgo.label-filter=${labelFilter}`, ...opt.focus.map((f) => `--ginkgo.focus=${f}`), ...opt.skip.map((s) => `--ginkgo.skip=${s}`)];
  const dryRun = join(reportDir, 'dry-run.json');
  await run([join(bin, 'e2e.test'), '--ginkgo.dry-run', '--ginkgo.no-color', `--ginkgo.json-report=${dryRun}`, ...selectArgs], { capture: true });
  const selected = parseReport(await readFile(dryRun, 'utf8')).filter((s) => s.state === 'passed');
  const framework = parseManifest(await readFile(join(k8sSrc, 'test/utils/image/manifest.go'), 'utf8'));
  const unavailable = unavailableImages(framework, built, kubeadmImages);
  const sources = new Map<string, string>();
  for (const f of await goFiles(join(k8sSrc, 'test/e2e'))) sources.set(relative(gomod, f), await readFile(f, 'utf8'));
  const users = imageUsers(sources, selected, new Set(unavailable.map((u) => u.id)), [PULL_ALWAYS]);
  const imageOf = new Map(unavailable.map((u) => [u.id, u.image]));
  imageOf.set(PULL_ALWAYS.id, 'a registry (imagePullPolicy: Always pulls at every start; there is none here)');
  const imageSkips = new Map([...users].map(([name, ids]) => [name, [...ids].map((id) => imageOf.get(id) ?? id)]));
  log(`${selected.length} specs selected (${labelFilter}${opt.focus.length ? `, focus ${opt.focus.join(' ')}` : ''}); ${imageSkips.size} need an image not available here`);

  const kubeconfig = (process.env.KUBECONFIG ?? join(homedir(), '.kube/config')).split(':')[0]!;
  const mk = (args: string[]) => run([process.execPath, 'bin/mk.js', ...args]);
  let code = 0;
  let hosts: SshK8sHosts | undefined;
  let applied = false;
  try {
    if (!opt['dry-run'] && selected.length > imageSkips.size) {
      if (!opt['no-build']) await timed('mk build', () => run([process.execPath, 'scripts/build.mjs']));
      let driver = dockerDriver(nodeImage);
      let nodes = [controlPlanes(1), workers(2)];
      if (opt.driver === 'ssh') {
        // Three "machines you already have" (containers with systemd, sshd and the runtime), as in ssh-cluster.test.ts.
        const image = await testImage('ssh host image', 'ssh-host-image.sh');
        hosts = new SshK8sHosts();
        const started = hosts;
        await timed('ssh hosts', () => started.start(image, ['cp', 'w1', 'w2']));
        await started.realisticResolvConf();
        driver = sshDriver({ identityFile: started.key, knownHostsFile: started.knownHosts });
        nodes = [controlPlanes([started.hosts[0]!.ip]), workers(started.hosts.slice(1).map((h) => h.ip))];
      }
      const specFile = join(reportDir, 'cluster.yaml');
      await writeFile(specFile, clusterSpec(opt.name, version, driver, nodes, built));
      applied = true;
      await timed('mk apply', () => mk(['apply', '-f', specFile]));
      if (interrupted) throw new Error(`interrupted (${interrupted})`);
      const tee = createWriteStream(join(reportDir, 'ginkgo.log'));
      const ginkgoArgs = [
        join(bin, 'ginkgo'),
        'run',
        // [Serial] is only a label in the k8s framework (not ginkgo's Serial decorator): one process.
        `--procs=${opt.serial ? 1 : opt.procs}`,
        `--label-filter=${labelFilter}`,
        ...opt.focus.map((f) => `--focus=${f}`),
        ...opt.skip.map((s) => `--skip=${s}`),
        ...(imageSkips.size ? [`--skip=${namesRegex([...imageSkips.keys()])}`] : []),
        `--timeout=${opt.timeout}`,
        '--no-color',
        '--silence-skips',
        '--junit-report=junit.xml',
        '--json-report=report.json',
        `--output-dir=${reportDir}`,
        join(bin, 'e2e.test'),
        '--',
        `--kubeconfig=${kubeconfig}`,
        `--context=mk-${opt.name}`,
        '--provider=skeleton',
        `--report-dir=${join(reportDir, 'artifacts')}`,
      ];
      await writeFile(join(reportDir, 'ginkgo.argv.json'), JSON.stringify(ginkgoArgs, null, 1));
      code = (await timed('ginkgo', () => run(ginkgoArgs, { tee, check: false }))).code;
      tee.end();
    }
  } finally {
    if (opt['dry-run']) log('dry run: no cluster');
    else if (!opt['keep-cluster']) {
      if (applied) await timed('mk delete', () => mk(['delete', opt.name])).catch((e: unknown) => log(`delete failed: ${String(e)}`));
      const leaked = await hosts?.cleanup();
      if (leaked?.length) log(`the ssh hosts left cgroups behind: ${leaked.join(' ')}`);
    } else log(`kept cluster ${opt.name} (node bin/mk.js delete ${opt.name}${hosts ? `; its hosts: docker rm -f $(docker ps -q --filter label=${hosts.label})` : ''})`);
  }

  let results: ReturnType<typeof parseReport> = [];
  try {
    results = parseReport(await readFile(join(reportDir, 'report.json'), 'utf8'));
  } catch {
    log('no ginkgo report.json: every selected spec counts as not run');
  }
  const summary = summarize({
    kubernetesVersion: version,
    mode,
    driver: opt.driver,
    labelFilter,
    focus: opt.focus,
    skip: opt.skip,
    wallSeconds: (Date.now() - t0) / 1000,
    selected: selected.map((s) => s.name),
    imageSkips,
    results,
    unavailableImages: unavailable,
    timings,
  });
  await writeFile(join(reportDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  const md = toMarkdown(summary);
  await writeFile(join(reportDir, 'summary.md'), md);
  console.log(md);
  return summary.counts.failed > 0 || summary.counts.notRun > 0 || code !== 0 && summary.counts.ran === 0 ? 1 : 0;
}

main().then(
  (c) => process.exit(c),
  (e: unknown) => {
    log(e instanceof Error ? e.message : String(e));
    process.exit(2);
  },
);
