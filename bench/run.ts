// Benchmarks, each a ratio against a floor measured side by side in the same run:
//   1. no-op `mk apply` on a 3-node cluster vs listing the cluster's labelled containers (the least
//      any observation must do), both as CLI processes and in-process;
//   2. CLI start (`mk --version`) vs `node -e 0`.
// Needs the Docker engine, `npm run build` and the node image (`npm run node-image`).
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { DockerDriver } from '../src/drivers/docker/driver.js';
import type { Reporter } from '../src/log.js';
import { reconcile } from '../src/reconcile/runner.js';
import { loadSpecs } from '../src/spec/load.js';

const run = promisify(execFile);
const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const MK = resolve('bin/mk.js');
const IMAGE = process.env.MK_TEST_IMAGE ?? 'mk.local/node:dev';
const name = `bench${process.pid}`;
const silent: Reporter = { emit: () => {}, debug: () => {} };

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

/** Runs the two candidates alternately so machine noise hits both alike. */
async function sideBySide(label: string, subject: () => Promise<unknown>, floor: () => Promise<unknown>) {
  await subject();
  await floor(); // warm-up
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    a.push(await time(subject));
    b.push(await time(floor));
  }
  const row = { label, subjectMs: +median(a).toFixed(1), floorMs: +median(b).toFixed(1), ratio: +(median(a) / median(b)).toFixed(2) };
  console.log(`${label.padEnd(44)} ${String(row.subjectMs).padStart(8)} ms  floor ${String(row.floorMs).padStart(8)} ms  ratio ${row.ratio}`);
  return row;
}

const dir = await mkdtemp(join(tmpdir(), 'mk-bench-'));
const env = { ...process.env, MK_HOME: join(dir, 'home'), NO_COLOR: '1' };
const file = join(dir, 'bench.yaml');
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
  const rows = [
    await sideBySide(
      'no-op mk apply (CLI) vs docker ps --filter',
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
  rows.push(
    await sideBySide(
      'mk --version vs node -e 0',
      () => run(process.execPath, [MK, '--version']),
      () => run(process.execPath, ['-e', '0']),
    ),
  );
  console.log('\n' + JSON.stringify({ bench: rows }));
} finally {
  await run(process.execPath, [MK, 'delete', name], { env }).catch((e: Error) => console.error(`cleanup: ${e.message}`));
  await rm(dir, { recursive: true, force: true });
}
