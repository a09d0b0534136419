// Helpers for integration tests that run the real mk CLI against the real Docker engine.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Docker from 'dockerode';

export const ROOT = resolve(import.meta.dirname, '../..');
export const MK = join(ROOT, 'bin/mk.js');
export const TEST_IMAGE = process.env.MK_TEST_IMAGE ?? 'mk.local/node:dev';
export const docker = new Docker();

export function uniqueClusterName(prefix = 'it'): string {
  return `${prefix}${randomBytes(3).toString('hex')}`;
}

export interface TestEnv {
  dir: string;
  home: string;
  env: NodeJS.ProcessEnv;
  cleanup: () => Promise<void>;
}

export async function testEnv(): Promise<TestEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'mk-it-'));
  const home = join(dir, 'mk-home');
  return {
    dir,
    home,
    env: { ...process.env, MK_HOME: home, NO_COLOR: '1', CI: 'true' },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

export function specYaml(name: string, workers: number, extra = ''): string {
  return `apiVersion: mk.dev/v1alpha1
kind: Cluster
metadata:
  name: ${name}
spec:
  bootstrap: none
  driver:
    name: docker
    docker:
      image: ${TEST_IMAGE}
      privileged: false
  nodes:
    - name: cp
      role: control-plane
      count: 1
    - name: w
      role: worker
      count: ${workers}
${extra}`;
}

export async function writeSpec(dir: string, name: string, workers: number, extra = ''): Promise<string> {
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, specYaml(name, workers, extra));
  return file;
}

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs mk to completion. */
export function mk(args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [MK, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code, signal) => done({ code, signal, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/** A long-running mk (watch, or an apply to be killed) whose output can be awaited. */
export class Background {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, [MK, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => (this.stdout += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((done) => this.child.on('close', (code, signal) => done({ code, signal })));
  }

  get output(): string {
    return this.stdout + this.stderr;
  }

  /** Waits until the output matches `re` `count` times. */
  async waitFor(re: RegExp, timeoutMs = 60_000, count = 1): Promise<void> {
    await until(() => (this.output.match(new RegExp(re.source, re.flags.includes('g') ? re.flags : re.flags + 'g')) ?? []).length >= count, timeoutMs, () => `output never matched ${re} x${count}:\n${this.output}`);
  }
}

export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, describe: () => string, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms: ${describe()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const labelFilter = (cluster: string) => ({ label: [`mk.dev/cluster=${cluster}`] });

export async function labelled(cluster: string): Promise<{ containers: Docker.ContainerInfo[]; volumes: string[]; networks: string[] }> {
  const [containers, volumes, networks] = await Promise.all([
    docker.listContainers({ all: true, filters: labelFilter(cluster) }),
    docker.listVolumes({ filters: labelFilter(cluster) }),
    docker.listNetworks({ filters: labelFilter(cluster) }),
  ]);
  return {
    containers: containers.sort((a, b) => (a.Names[0] ?? '').localeCompare(b.Names[0] ?? '')),
    volumes: (volumes.Volumes ?? []).map((v) => v.Name).sort(),
    networks: networks.map((n) => n.Name).sort(),
  };
}

export async function containerNames(cluster: string): Promise<string[]> {
  return (await labelled(cluster)).containers.map((c) => (c.Names[0] ?? '').replace(/^\//, ''));
}

/** Docker events for the cluster's objects between two instants (epoch ms), e.g. to prove a no-op. */
export async function dockerEvents(cluster: string, since: number, until: number): Promise<Array<{ Type: string; Action: string }>> {
  const secs = (ms: number) => (ms / 1000).toFixed(3);
  const stream = (await docker.getEvents({ since: secs(since), until: secs(until), filters: labelFilter(cluster) } as unknown as Parameters<typeof docker.getEvents>[0])) as unknown as NodeJS.ReadableStream;
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { Type: string; Action: string });
}

/**
 * Removes everything labelled for the cluster, straight through the Docker API (test cleanup).
 * Twice, a second apart: a create sent by a killed mk can still land in the engine after the first pass.
 */
export async function removeLabelled(cluster: string): Promise<void> {
  await removeLabelledOnce(cluster);
  await new Promise((r) => setTimeout(r, 1000));
  await removeLabelledOnce(cluster);
}

async function removeLabelledOnce(cluster: string): Promise<void> {
  const { containers, volumes, networks } = await labelled(cluster);
  await Promise.all(containers.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined)));
  await Promise.all(volumes.map((v) => docker.getVolume(v).remove().catch(() => undefined)));
  await Promise.all(networks.map((n) => docker.getNetwork(n).remove().catch(() => undefined)));
}
