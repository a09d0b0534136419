// The mk CLI (bin/mk.js) run as a user runs it, for the integration and e2e tiers.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { eventually } from './wait.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const MK = join(ROOT, 'bin/mk.js');

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout + stderr, as a user sees it. */
  output: string;
  ms: number;
}

export interface MkOptions {
  /** Another copy of bin/mk.js to run. */
  bin?: string;
  /** The working directory (default: the test's). */
  cwd?: string;
}

/** Runs mk to completion (stdin empty). */
export function mk(args: readonly string[], env: NodeJS.ProcessEnv, opts: MkOptions = {}): Promise<Run> {
  const t0 = Date.now();
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [opts.bin ?? MK, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], ...(opts.cwd ? { cwd: opts.cwd } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code, signal) => done({ code, signal, stdout, stderr, output: stdout + stderr, ms: Date.now() - t0 }));
  });
}

/** One NDJSON line of `mk -o json`: the fields tests read (`debug` events, with -v, carry `context`). */
export interface CliEvent {
  type: string;
  cluster?: string;
  step?: { id: string; description?: string; reason?: string };
  outcome?: string;
  durationMs?: number;
  detail?: string;
  error?: string;
  message?: string;
  context?: Record<string, unknown>;
  plan?: { steps: Array<{ id: string; description: string; reason: string; dependsOn: string[] }>; warnings: string[] };
}

export interface JsonRun extends Run {
  events: CliEvent[];
}

/** `mk -o json ...`: every line on stdout is an event; with -v, debug events come on stderr. */
export async function mkJson(args: readonly string[], env: NodeJS.ProcessEnv, opts: MkOptions = {}): Promise<JsonRun> {
  const r = await mk(['-o', 'json', ...args], env, opts);
  const parse = (l: string): CliEvent => {
    try {
      return JSON.parse(l) as CliEvent;
    } catch {
      throw new Error(`mk -o json printed a line that is not JSON: ${l}`);
    }
  };
  const lines = (text: string) => text.split('\n').filter(Boolean);
  return { ...r, events: [...lines(r.stdout), ...lines(r.stderr).filter((l) => l.startsWith('{'))].map(parse) };
}

/** Fails the test unless the run reported no failed step and no error, and exited 0. */
export function expectSuccess(r: JsonRun): void {
  const failed = r.events.filter((e) => e.type === 'step.failed' || e.type === 'error').map((e) => (e.step ? `${e.step.id}: ${e.error}` : (e.message ?? JSON.stringify(e))));
  expect(failed, r.output).toEqual([]);
  expect(r.code, r.output).toBe(0);
}

/** "<label>: apply 41.2 s; <step id> 3.1 s (<detail>); ...", for a test's timing summary. */
export function timingLine(label: string, r: JsonRun): string {
  const s = (ms: number | undefined) => `${((ms ?? 0) / 1000).toFixed(1)} s`;
  const steps = r.events.filter((e) => e.type === 'step.finished').map((e) => `${e.step!.id} ${s(e.durationMs)}${e.detail ? ` (${e.detail})` : ''}`);
  return `${label}: apply ${s(r.ms)}; ${steps.join('; ')}`;
}

/** A long-running mk (watch, or an apply to be killed) whose output can be awaited. */
export class Background {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: readonly string[], env: NodeJS.ProcessEnv) {
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
    const all = new RegExp(re.source, re.flags.includes('g') ? re.flags : re.flags + 'g');
    await eventually(() => `output never matched ${re} x${count}:\n${this.output}`, async () => (this.output.match(all) ?? []).length >= count, timeoutMs, 100);
  }
}

/** Builds dist/ (scripts/build.mjs) unless it is newer than every file under src/. */
export async function buildCli(): Promise<void> {
  const built = await stat(join(ROOT, 'dist/main.js')).then((st) => st.mtimeMs, () => 0);
  const newest = async (dir: string): Promise<number> => {
    let max = 0;
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      max = Math.max(max, e.isDirectory() ? await newest(p) : (await stat(p)).mtimeMs);
    }
    return max;
  };
  if (built === 0 || (await newest(join(ROOT, 'src'))) > built) await promisify(execFile)(process.execPath, [join(ROOT, 'scripts/build.mjs')], { cwd: ROOT });
}
