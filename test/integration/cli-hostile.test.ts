// The real CLI on hostile specs: a billion laughs and a 20 MB file are refused in under a second with
// bounded memory and nothing created; SIGTERM and SIGINT stop mk within 2 s, also while it waits on a
// stdin that never ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Background, buildCli, MK } from '../helpers/cli.js';
import { billionLaughs } from '../helpers/spec.js';
import { eventually } from '../helpers/wait.js';
import { labelled, removeLabelled, testEnv, uniqueClusterName, type TestEnv } from './helpers.js';

let t: TestEnv;
const name = uniqueClusterName('hostile');

beforeAll(async () => {
  await buildCli();
  t = await testEnv();
  // Preloaded into mk: prints its peak resident memory when it exits.
  await writeFile(join(t.dir, 'maxrss.cjs'), "process.on('exit', () => require('fs').writeSync(2, `\\nmaxrss_kb=${process.resourceUsage().maxRSS}\\n`));\n");
});
afterAll(async () => {
  await removeLabelled(name);
  await t.cleanup();
});

/** A cluster whose user-manifest addon carries 9^10 values once its aliases are expanded. */
const laughs = (cluster: string): string =>
  `apiVersion: mk.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: ${cluster}\nspec:\n  addons:\n    - name: mine\n      manifests: app.yaml\n      options:\n${billionLaughs(8)}`;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

function run(args: string[]): { child: ChildProcess; exited: Promise<Exit> } {
  const child = spawn(process.execPath, ['-r', join(t.dir, 'maxrss.cjs'), MK, ...args], { env: t.env, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<Exit>((done) => child.on('close', (code, signal) => done({ code, signal, output })));
  return { child, exited };
}

const maxRssMb = (output: string): number => Number(/maxrss_kb=(\d+)/.exec(output)?.[1] ?? NaN) / 1024;

/** Resolves once the process has used no CPU for 300 ms: started, and blocked on what it waits for. */
async function idle(pid: number): Promise<void> {
  const cpu = async () => (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ').slice(11, 13).join(' ');
  let last = '';
  let still = 0;
  await eventually('mk never went idle', async () => {
    const now = await cpu();
    still = now === last ? still + 1 : 0;
    last = now;
    return still >= 3;
  }, 30_000, 100);
}

describe('hostile specs are refused at once', () => {
  it.each([
    ['a billion laughs', () => laughs(name), `hostile.yaml:14:23: spec.addons[0].options.a4[1]: YAML aliases expand the file past 20000 values (a "billion laughs" document?)`],
    ['a 20 MB file', () => `${laughs(name).split('spec:')[0]}  labels:\n${'    k: v\n'.repeat(2_000_000)}`, 'hostile.yaml:1:1: the file is larger than 1 MiB, the most a spec file may be'],
  ])('%s: mk apply exits 1 in under a second with the problem, small, having created nothing', async (what, text, message) => {
    const file = join(t.dir, 'hostile.yaml');
    await writeFile(file, text());
    const t0 = Date.now();
    const { code, output } = await run(['apply', '-f', file]).exited;
    const ms = Date.now() - t0;
    console.log(`${what}: refused in ${ms} ms, peak RSS ${maxRssMb(output).toFixed(0)} MB`);
    expect(code, output).toBe(1);
    expect(output).toContain(message);
    expect(ms).toBeLessThan(1000);
    expect(maxRssMb(output)).toBeLessThan(150);
    expect((await labelled(name)).containers).toEqual([]);
  });
});

describe('SIGTERM and SIGINT stop mk within 2 s', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('%s while mk reads a spec from a stdin that never ends', async (sig) => {
    const { child, exited } = run(['plan', '-f', '-']);
    try {
      await idle(child.pid!);
      const t0 = Date.now();
      child.kill(sig);
      const exit = await Promise.race([exited, sleep(5000).then(() => undefined)]);
      const ms = Date.now() - t0;
      console.log(`${sig} on a read of stdin: exit ${exit?.code} after ${ms} ms`);
      expect(exit, 'mk still runs 5 s after the signal').toBeDefined();
      expect(exit!.code, exit!.output).toBe(130);
      expect(exit!.output).toContain(`${sig} received: stopping`);
      expect(ms).toBeLessThan(2000);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('SIGTERM while mk watch waits on a billion laughs it refused', async () => {
    const file = join(t.dir, 'watched.yaml');
    await writeFile(file, laughs(name));
    const watcher = new Background(['watch', '-f', file], t.env);
    try {
      await watcher.waitFor(/invalid spec, cluster left as it is:\n.*billion laughs/);
      const t0 = Date.now();
      watcher.child.kill('SIGTERM');
      const exit = await Promise.race([watcher.exited, sleep(5000).then(() => undefined)]);
      const ms = Date.now() - t0;
      expect(exit, watcher.output).toEqual({ code: 0, signal: null });
      expect(watcher.output).toContain('watch stopped');
      expect(ms).toBeLessThan(2000);
    } finally {
      watcher.child.kill('SIGKILL');
    }
  });
});
