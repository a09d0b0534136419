// Benchmarks, each a ratio against a floor measured side by side in the same run:
//   1. CLI start: `mk --version` and `mk --help` vs `node -e 0`, and `mk plan` of an invalid spec (loads, validates and
//      reports it) vs `node -e 0`;
//   2. no-op `mk apply` on a 3-node cluster (bootstrap: none) vs listing the cluster's labelled
//      containers (the least any observation must do), both as CLI processes and in-process;
//   3. with the containerd node image of the Kubernetes test bed (test/k8s/node-image.sh; skipped
//      when it is not built, or with BENCH_IMAGES=0): `mk image load` of a 100 MB image into 3 nodes vs
//      the floor `docker save IMAGE | docker exec -i NODE ctr -n k8s.io images import -` into the same
//      nodes one after another, and a no-op `mk apply` whose spec lists that image vs the same spec
//      without it.
//   4. with that node image and Kubernetes (skipped likewise, or with BENCH_CLUSTERS=0), whole clusters:
//      node boot (container start -> containerd serving the node's control-plane images) vs the same
//      start until containerd answers; one control plane from nothing to usable (`mk apply`: Ready
//      and CoreDNS answering) vs its floor, what no tool can skip: the container start, kubeadm
//      init's own time and CoreDNS getting ready after it (from the same run's step timings); add one
//      worker vs its container start and `kubeadm join`'s own time; remove one worker vs its drain,
//      `kubeadm reset` and container removal; no-op `mk apply` and `mk plan` of that cluster vs
//      `docker ps` and one GET /readyz (kubectl).
// Prints a table and writes it as JSON, with the machine it ran on, to $BENCH_JSON (default
// .bench/results.json). Never asserts a time. Needs the Docker engine, `npm run build` and the node
// image (`npm run node-image`). BENCH_NAME names the clusters it makes (default bench<pid>).
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { DockerDriver } from '../src/drivers/docker/driver.js';
import type { Reporter } from '../src/log.js';
import { reconcile } from '../src/reconcile/runner.js';
import { normalizeImageRef } from '../src/spec/image-refs.js';
import { loadSpecs } from '../src/spec/load.js';

const run = promisify(execFile);
const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const MK = resolve('bin/mk.js');
const IMAGE = process.env.MK_TEST_IMAGE ?? 'mk.local/node:dev';
const name = process.env.BENCH_NAME ?? `bench${process.pid}`;
const JSON_OUT = resolve(process.env.BENCH_JSON ?? '.bench/results.json');
const silent: Reporter = { emit: () => {}, debug: () => {} };
const LOAD_IMAGE = `mk.bench/load-${process.pid}:100mb`;
const LOAD_BYTES = 100_000_000;

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface Row {
  label: string;
  subjectMs: number;
  floorMs: number;
  ratio: number;
}

const LABEL_WIDTH = 64;

/** Runs the two candidates alternately so machine noise hits both alike; `before` (not timed) runs before each. */
async function sideBySide(label: string, subject: () => Promise<unknown>, floor: () => Promise<unknown>, opts: { runs?: number; before?: () => Promise<unknown> } = {}) {
  const before = opts.before ?? (() => Promise.resolve());
  await before();
  await subject();
  await before();
  await floor(); // warm-up
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < (opts.runs ?? RUNS); i++) {
    await before();
    a.push(await time(subject));
    await before();
    b.push(await time(floor));
  }
  const row: Row = { label, subjectMs: +median(a).toFixed(1), floorMs: +median(b).toFixed(1), ratio: +(median(a) / median(b)).toFixed(2) };
  console.log(`${label.padEnd(LABEL_WIDTH)} ${String(row.subjectMs).padStart(8)} ms  floor ${String(row.floorMs).padStart(8)} ms  ratio ${row.ratio}`);
  return row;
}

const dir = await mkdtemp(join(tmpdir(), 'mk-bench-'));
const env = { ...process.env, MK_HOME: join(dir, 'home'), NO_COLOR: '1' };
const file = join(dir, 'bench.yaml');
const invalid = join(dir, 'invalid.yaml');
// Two mistakes: a count that is not a number, and a field the schema does not know.
await writeFile(
  invalid,
  `apiVersion: mk.dev/v1alpha1
kind: Cluster
metadata: { name: ${name}x }
spec:
  nodes:
    - { name: cp, role: control-plane, count: "1" }
  bogus: 1
`,
);
await writeFile(
  file,
  `apiVersion: mk.dev/v1alpha1
kind: Cluster
metadata: { name: ${name} }
spec:
  bootstrap: none
  driver: { name: docker, docker: { image: ${IMAGE}, privileged: false } }
  nodes:
    - { name: cp, role: control-plane, count: 1 }
    - { name: w, role: worker, count: 2 }
`,
);
const docker = new Docker();
const filters = { label: [`mk.dev/cluster=${name}`] };
try {
  await run(process.execPath, [MK, 'apply', '-f', file], { env });
  console.log(`runs per candidate: ${RUNS} (median)\n`);
  const node0 = () => run(process.execPath, ['-e', '0']);
  const rows = [
    await sideBySide('mk --version vs node -e 0', () => run(process.execPath, [MK, '--version']), node0),
    await sideBySide('mk --help vs node -e 0', () => run(process.execPath, [MK, '--help']), node0),
    await sideBySide('mk plan (invalid spec) vs node -e 0', () => planInvalid(invalid), node0),
    await sideBySide(
      'no-op mk apply (3 nodes, bootstrap: none) vs docker ps --filter',
      () => run(process.execPath, [MK, 'apply', '-f', file], { env }),
      () => run('docker', ['ps', '-a', '-q', '--filter', `label=mk.dev/cluster=${name}`]),
    ),
  ];
  const [spec] = await loadSpecs(file);
  const driver = new DockerDriver({ options: spec!.cluster.spec.driver.name === 'docker' ? spec!.cluster.spec.driver.docker : { image: IMAGE, privileged: false } });
  rows.push(
    await sideBySide(
      'no-op reconcile (in-process) vs listContainers',
      () => reconcile(spec!.cluster, { driver, reporter: silent, mode: 'apply' }),
      () => docker.listContainers({ all: true, filters }),
    ),
  );
  if (process.env.BENCH_IMAGES !== '0') rows.push(...(await imageRows()));
  if (process.env.BENCH_CLUSTERS !== '0') rows.push(...(await clusterRows()));
  await writeResults(rows);
} finally {
  await run(process.execPath, [MK, 'delete', name], { env }).catch((e: Error) => console.error(`cleanup: ${e.message}`));
  await run(process.execPath, [MK, 'delete', `${name}i`], { env }).catch(() => undefined);
  await run(process.execPath, [MK, 'delete', `${name}k`], { env }).catch(() => undefined);
  await run('docker', ['rmi', LOAD_IMAGE]).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}

/** `mk plan` of a spec with mistakes: exit code 1 is the outcome measured, any other is a failure. */
async function planInvalid(file: string): Promise<void> {
  const exit = await run(process.execPath, [MK, 'plan', '-f', file], { env }).then(
    () => 0,
    (err: { code?: number }) => err.code ?? -1,
  );
  if (exit !== 1) throw new Error(`mk plan of an invalid spec exited ${exit}, not 1`);
}

/** The rows as JSON, with the machine and the versions they were measured on. */
async function writeResults(rows: Row[]) {
  const docker = (await run('docker', ['version', '--format', '{{.Server.Version}}']).catch(() => ({ stdout: 'unknown' }))).stdout.trim();
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGiB: +(totalmem() / 2 ** 30).toFixed(1), kernel: release(), node: process.version, docker };
  await mkdir(dirname(JSON_OUT), { recursive: true });
  await writeFile(JSON_OUT, JSON.stringify({ date: new Date().toISOString(), runs: RUNS, machine, rows }, null, 2) + '\n');
  console.log(`\nwritten to ${JSON_OUT}`);
}

/** The tier-3 node image (containerd) of the pinned Kubernetes version, when built. */
async function containerdNodeImage(): Promise<string | undefined> {
  if (process.env.MK_BENCH_K8S_IMAGE) return process.env.MK_BENCH_K8S_IMAGE;
  const version = process.env.MK_K8S_VERSION ?? (await readFile('test/k8s/VERSION', 'utf8')).trim();
  const { stdout } = await run('docker', ['images', '--format', '{{.Repository}}:{{.Tag}}', '--filter', `reference=mk.test/k8s-node:${version}-*`]);
  return stdout.split('\n').find(Boolean);
}

/** `a | b` without a shell: a's stdout into b's stdin; fails when either fails. */
function pipe(a: string[], b: string[]): Promise<void> {
  const exit = (p: ReturnType<typeof spawn>, what: string) => new Promise<void>((ok, fail) => p.on('close', (code) => (code === 0 ? ok() : fail(new Error(`${what} exited ${code}`)))));
  const src = spawn(a[0]!, a.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  const dst = spawn(b[0]!, b.slice(1), { stdio: ['pipe', 'ignore', 'inherit'] });
  src.stdout!.pipe(dst.stdin!);
  return Promise.all([exit(src, a.join(' ')), exit(dst, b.join(' '))]).then(() => undefined);
}

/** Row 3: image loads into 3 containerd nodes, and what spec.images adds to a no-op apply. */
async function imageRows() {
  const image = await containerdNodeImage();
  if (!image) {
    console.log('\nimage load rows skipped: no containerd node image (bash test/k8s/build.sh && bash test/k8s/node-image.sh)');
    return [];
  }
  const cluster = `${name}i`;
  const nodes = [`${cluster}-cp-1`, `${cluster}-w-1`, `${cluster}-w-2`];
  const spec = (images: string[]) => `apiVersion: mk.dev/v1alpha1
kind: Cluster
metadata: { name: ${cluster} }
spec:
  bootstrap: none
  driver: { name: docker, docker: { image: ${image}, privileged: false } }
  nodes:
    - { name: cp, role: control-plane, count: 1 }
    - { name: w, role: worker, count: 2 }
  images: [${images.join(', ')}]
`;
  const plain = join(dir, 'plain.yaml');
  const withImage = join(dir, 'with-image.yaml');
  await writeFile(plain, spec([]));
  await writeFile(withImage, spec([LOAD_IMAGE]));
  // 100 MB that does not compress, in one layer.
  const layer = join(dir, 'layer');
  await run('mkdir', ['-p', layer]);
  await run('dd', ['if=/dev/urandom', `of=${join(layer, 'blob')}`, 'bs=1000000', `count=${LOAD_BYTES / 1e6}`, 'status=none']);
  await run('tar', ['-C', layer, '-cf', join(dir, 'layer.tar'), 'blob']);
  await run('docker', ['import', join(dir, 'layer.tar'), LOAD_IMAGE]);
  const id = (await run('docker', ['image', 'inspect', '-f', '{{.Id}}', LOAD_IMAGE])).stdout.trim();
  await run(process.execPath, [MK, 'apply', '-f', plain], { env });
  // Let each node finish importing its own baked images before anything is measured.
  await Promise.all(nodes.map((n) => run('docker', ['exec', n, 'systemctl', 'is-system-running', '--wait']).catch(() => undefined)));
  const ref = normalizeImageRef(LOAD_IMAGE);
  const clear = () => Promise.all(nodes.map((n) => run('docker', ['exec', n, 'ctr', '-n', 'k8s.io', 'images', 'rm', '--sync', ref, id]).catch(() => undefined)));
  const runs = Number(process.env.BENCH_LOAD_RUNS ?? 5);
  const rows = [
    await sideBySide(
      'image load 100 MB x 3 nodes vs save|import',
      () => run(process.execPath, [MK, 'image', 'load', LOAD_IMAGE, '--cluster', cluster], { env }),
      async () => {
        for (const n of nodes) await pipe(['docker', 'save', LOAD_IMAGE], ['docker', 'exec', '-i', n, 'ctr', '-n', 'k8s.io', 'images', 'import', '-']);
      },
      { runs, before: clear },
    ),
  ];
  console.log(`${''.padEnd(LABEL_WIDTH)} (mk image load: ${((3 * LOAD_BYTES) / 1e6 / (rows[0]!.subjectMs / 1000)).toFixed(1)} MB/s into the 3 nodes together)`);
  await run(process.execPath, [MK, 'apply', '-f', withImage], { env });
  rows.push(
    await sideBySide(
      'no-op apply, spec.images [100 MB] vs none',
      () => run(process.execPath, [MK, 'apply', '-f', withImage], { env }),
      () => run(process.execPath, [MK, 'apply', '-f', plain], { env }),
    ),
  );
  return rows;
}

/** One event of `mk -o json`: what the cluster rows read of a step. */
interface StepEvent {
  type: string;
  step?: { id: string };
  outcome?: string;
  durationMs?: number;
  detail?: string;
}

/** `mk -o json ARGS`: its events, and how long it took. */
async function mkEvents(args: string[], environment: NodeJS.ProcessEnv): Promise<{ ms: number; events: StepEvent[] }> {
  let out = '';
  const ms = await time(async () => {
    out = (await run(process.execPath, [MK, '-o', 'json', ...args], { env: environment, maxBuffer: 64 << 20 })).stdout;
  });
  return { ms, events: out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as StepEvent) };
}

/** How long step `id` took in a run, and the seconds its detail gives for `what` ("kubeadm init 9.4 s"). */
function stepTime(events: StepEvent[], id: string, what?: string): number {
  const e = events.find((x) => x.type === 'step.finished' && x.step?.id === id);
  if (!e) throw new Error(`no step ${id} in the run`);
  if (!what) return e.durationMs ?? 0;
  const m = new RegExp(`${what} ([\\d.]+) s`).exec(e.detail ?? '');
  if (!m) throw new Error(`step ${id} does not say its ${what} time: ${e.detail}`);
  return Number(m[1]) * 1000;
}

/** A row whose floor is summed from parts of the subject's own run (the parts no tool can skip). */
function derivedRow(label: string, pairs: Array<{ subject: number; floor: number }>): Row {
  const subjectMs = median(pairs.map((p) => p.subject));
  const floorMs = median(pairs.map((p) => p.floor));
  const row: Row = { label, subjectMs: +subjectMs.toFixed(1), floorMs: +floorMs.toFixed(1), ratio: +(subjectMs / floorMs).toFixed(2) };
  console.log(`${label.padEnd(LABEL_WIDTH)} ${String(row.subjectMs).padStart(8)} ms  floor ${String(row.floorMs).padStart(8)} ms  ratio ${row.ratio}`);
  return row;
}

/** Rows 4: whole Kubernetes clusters from the containerd node image. */
async function clusterRows(): Promise<Row[]> {
  const image = await containerdNodeImage();
  if (!image) {
    console.log('\ncluster rows skipped: no containerd node image (bash test/k8s/build.sh && bash test/k8s/node-image.sh)');
    return [];
  }
  const version = process.env.MK_K8S_VERSION ?? (await readFile('test/k8s/VERSION', 'utf8')).trim();
  const runs = Number(process.env.BENCH_CLUSTER_RUNS ?? 3);
  const rows: Row[] = [];

  // Node boot: the node container as mk starts it (its /var a new volume), until containerd lists its images.
  const boot = async (until: string[]) => {
    const vol = `${name}-boot-var`;
    await run('docker', ['volume', 'create', vol]);
    const c = `${name}-boot`;
    try {
      return await time(async () => {
        await run('docker', ['run', '-d', '--name', c, '--cap-add', 'ALL', '--cap-drop', 'SYS_RESOURCE', '--security-opt', 'seccomp=unconfined', '--security-opt', 'apparmor=unconfined',
          '--security-opt', 'systempaths=unconfined', '--cgroupns', 'private', '--tmpfs', '/run', '--tmpfs', '/tmp', '--tmpfs', '/run/lock', '-v', `${vol}:/var`, '-e', 'container=docker', image]);
        for (;;) {
          const ok = await run('docker', ['exec', c, ...until]).then((r) => r.stdout, () => '');
          if (ok.includes('registry.k8s.io/kube-apiserver:') || (until[1] === 'version' && ok)) return;
          await new Promise((r) => setTimeout(r, 50));
        }
      });
    } finally {
      await run('docker', ['rm', '-f', '-v', c]).catch(() => undefined);
      await run('docker', ['volume', 'rm', vol]).catch(() => undefined);
    }
  };
  const bootRuns: Array<{ subject: number; floor: number }> = [];
  for (let i = 0; i < runs; i++) bootRuns.push({ subject: await boot(['ctr', '-n', 'k8s.io', 'images', 'ls', '-q']), floor: await boot(['ctr', 'version']) });
  rows.push(derivedRow('node boot: start -> its images served vs start -> containerd up', bootRuns));

  const cluster = `${name}k`;
  const kenv = { ...env, KUBECONFIG: join(dir, 'kubeconfig') };
  const spec = join(dir, 'k8s.yaml');
  const write = (workers: number) =>
    writeFile(
      spec,
      `apiVersion: mk.dev/v1alpha1
kind: Cluster
metadata: { name: ${cluster} }
spec:
  kubernetesVersion: ${version}
  driver: { name: docker, docker: { image: ${image}, privileged: false } }
  nodes:
    - { name: cp, role: control-plane, count: 1 }
${workers ? `    - { name: w, role: worker, count: ${workers} }\n` : ''}`,
    );
  const cp = `${cluster}-cp-1`;
  const create: Array<{ subject: number; floor: number }> = [];
  const add: Array<{ subject: number; floor: number }> = [];
  const remove: Array<{ subject: number; floor: number }> = [];
  for (let i = 0; i < runs; i++) {
    await write(0);
    const c = await mkEvents(['apply', '-f', spec], kenv);
    // Floor: the container start, kubeadm init itself, and CoreDNS getting ready (the wait step).
    create.push({ subject: c.ms, floor: stepTime(c.events, `node.create:${cp}`) + stepTime(c.events, `kubeadm.init:${cp}`, 'kubeadm init') + stepTime(c.events, `cluster.wait:${cluster}`) });
    await write(1);
    const a = await mkEvents(['apply', '-f', spec], kenv);
    add.push({ subject: a.ms, floor: stepTime(a.events, `node.create:${cluster}-w-1`) + stepTime(a.events, `kubeadm.join:${cluster}-w-1`, 'kubeadm join') });
    await write(0);
    const r = await mkEvents(['apply', '-f', spec], kenv);
    const reset = r.events.find((e) => e.step?.id === `kubeadm.reset:${cluster}-w-1` && e.detail)?.detail ?? '';
    const drained = Number(/drained in ([\d.]+) s/.exec(reset)?.[1] ?? 0) * 1000;
    remove.push({ subject: r.ms, floor: drained + stepTime(r.events, `kubeadm.reset:${cluster}-w-1`, 'kubeadm reset') + stepTime(r.events, `node.remove:${cluster}-w-1`) });
    if (i < runs - 1) await run(process.execPath, [MK, 'delete', cluster], { env: kenv });
  }
  rows.push(derivedRow('create -> usable, 1 control plane vs start+kubeadm init+CoreDNS', create));
  rows.push(derivedRow('add one worker vs its start + kubeadm join', add));
  rows.push(derivedRow('remove one worker vs drain + kubeadm reset + rm', remove));

  // No-op apply and plan of the running cluster vs what any observation must ask.
  const kubectl = join(process.env.MK_K8S_CACHE ?? join(process.env.HOME ?? '/root', '.cache/mk/k8s'), version, 'bin/kubectl');
  const floor = async () => {
    await run('docker', ['ps', '-a', '-q', '--filter', `label=mk.dev/cluster=${cluster}`]);
    await run(kubectl, ['--kubeconfig', kenv.KUBECONFIG, '--context', `mk-${cluster}`, 'get', '--raw', '/readyz']);
  };
  rows.push(await sideBySide('no-op mk apply (kubeadm, 1 node) vs docker ps + GET /readyz', () => run(process.execPath, [MK, 'apply', '-f', spec], { env: kenv }), floor, { runs: Math.max(runs, 5) }));
  rows.push(await sideBySide('mk plan (kubeadm, 1 node, in sync) vs docker ps + GET /readyz', () => run(process.execPath, [MK, 'plan', '-f', spec], { env: kenv }), floor, { runs: Math.max(runs, 5) }));
  return rows;
}
