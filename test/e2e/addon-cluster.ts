// The harness the addon e2e files share: one cluster of theirs made by `mk apply` (a temp MK_HOME,
// kubeconfig and spec file), applied from a spec the test writes, read through mk's context, and
// deleted afterwards (kept with MK_K8S_KEEP=1), with the timings it gathered printed.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect } from 'vitest';
import type { ObjectRef } from '../../src/addons/index.js';
import type { KubeClient, KubeObject } from '../../src/kube/index.js';
import { ensureNodeImage } from '../k8s/cluster.js';
import { buildCli, expectSuccess, mkJson, timingLine, type CliEvent, type JsonRun } from '../helpers/cli.js';
import { addonInventory, mkClient, urlOf } from './helpers.js';

const execFileP = promisify(execFile);

export interface Applied {
  events: CliEvent[];
  steps: CliEvent[];
  plan: NonNullable<CliEvent['plan']>;
  ms: number;
}

export interface AddonCluster {
  readonly timings: string[];
  /** mk's environment for this cluster (MK_HOME, KUBECONFIG); set once the suite started. */
  env(): NodeJS.ProcessEnv;
  /** The suite's temp folder (the spec file is cluster.yaml in it). */
  dir(): string;
  specFile(): string;
  /** Writes the spec, given the node image. */
  writeSpec(spec: (image: string) => string): Promise<void>;
  mk(args: string[]): Promise<JsonRun>;
  /** Writes the spec (given the node image) and applies it; fails with mk's errors. */
  apply(label: string, spec: (image: string) => string): Promise<Applied>;
  client(): KubeClient;
  read<T = KubeObject>(r: ObjectRef): Promise<T | undefined>;
  /** What mk's inventory of the addon lists; undefined when it is not installed. */
  inventory(addon: string): Promise<ObjectRef[] | undefined>;
}

/** Registers the suite's beforeAll/afterAll (call it inside describe); `before` runs first in afterAll. */
export function addonCluster(name: string, tag: string, opts: { before?: () => Promise<unknown> } = {}): AddonCluster {
  let dir: string | undefined;
  let image = '';
  let env: NodeJS.ProcessEnv = {};
  const timings: string[] = [];
  const specFile = () => join(dir!, 'cluster.yaml');
  const writeSpec = (spec: (image: string) => string) => writeFile(specFile(), spec(image));
  const mk = (args: string[]) => mkJson(args, env);
  const client = () => mkClient(env.KUBECONFIG!, name);

  beforeAll(async () => {
    image = await ensureNodeImage();
    await buildCli();
    dir = await mkdtemp(join(tmpdir(), `mk-e2e-${tag}-`));
    env = { ...process.env, MK_HOME: join(dir, 'mk-home'), KUBECONFIG: join(dir, 'kubeconfig'), NO_COLOR: '1' };
  });

  afterAll(async () => {
    await opts.before?.();
    if (!dir) return;
    console.log(`[${tag}] timings\n  ${timings.join('\n  ')}`);
    if (process.env.MK_K8S_KEEP === '1') {
      console.log(`[${tag}] kept cluster ${name}; MK_HOME=${env.MK_HOME} KUBECONFIG=${env.KUBECONFIG} node bin/mk.js delete ${name}`);
      return;
    }
    const r = await mk(['delete', name]);
    expect(r.code).toBe(0);
    const { stdout } = await execFileP('docker', ['ps', '-aq', '--filter', `label=mk.dev/cluster=${name}`]);
    expect(stdout.trim()).toBe('');
    await rm(dir, { recursive: true, force: true });
  });

  return {
    timings,
    env: () => env,
    dir: () => dir!,
    specFile,
    writeSpec,
    mk,
    async apply(label, spec) {
      await writeSpec(spec);
      const r = await mk(['apply', '-f', specFile()]);
      expectSuccess(r);
      timings.push(timingLine(label, r));
      return { events: r.events, steps: r.events.filter((e) => e.type === 'step.finished'), plan: r.events.find((e) => e.type === 'plan')!.plan!, ms: r.ms };
    },
    client,
    read: <T = KubeObject>(r: ObjectRef) => client().json<T>('GET', urlOf(r), { allow404: true }),
    inventory: (addon) => addonInventory(client(), addon),
  };
}
