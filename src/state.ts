// mk's local state directory. It caches (last applied spec, last run, locks); it never decides:
// the cluster itself, found by labels, is the source of truth.
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Cluster } from './spec/types.js';

export function mkHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.MK_HOME || join(homedir(), '.mk');
}

export function clusterStateDir(name: string, home = mkHome()): string {
  return join(home, 'clusters', name);
}

/** Atomic write (temp + rename) with mode 0600 in a 0700 directory. */
export async function writePrivateFile(dir: string, file: string, content: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const target = join(dir, file);
  const tmp = `${target}.${process.pid}.tmp`;
  await writeFile(tmp, content, { mode: 0o600 });
  await rename(tmp, target);
}

export async function saveLastApplied(cluster: Cluster, home = mkHome()): Promise<void> {
  await writePrivateFile(clusterStateDir(cluster.metadata.name, home), 'last-applied.json', JSON.stringify(cluster, null, 2) + '\n');
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function loadLastApplied(name: string, home = mkHome()): Promise<Cluster | undefined> {
  return readJson<Cluster>(join(clusterStateDir(name, home), 'last-applied.json'));
}

/** The last apply that was attempted, and how it ended. */
export interface LastRun {
  spec: Cluster;
  /** The spec file, when there was one. */
  file?: string;
  startedAt: string;
  finishedAt?: string;
  /** 'running': not finished (or mk was killed before it could say). */
  outcome: 'running' | 'done' | 'waiting' | 'failed' | 'aborted';
  /** The step that failed, when one did. */
  failedStep?: string;
  /** Why it failed (an mk error message: never holds secrets). */
  error?: string;
}

export async function saveLastRun(run: LastRun, home = mkHome()): Promise<void> {
  await writePrivateFile(clusterStateDir(run.spec.metadata.name, home), 'last-run.json', JSON.stringify(run, null, 2) + '\n');
}

export async function loadLastRun(name: string, home = mkHome()): Promise<LastRun | undefined> {
  return readJson<LastRun>(join(clusterStateDir(name, home), 'last-run.json'));
}

/** The spec mk knows a cluster by: the last applied one, else the last attempted one (a first apply that failed). */
export async function knownSpec(name: string, home = mkHome()): Promise<{ spec: Cluster; applied: boolean } | undefined> {
  const applied = await loadLastApplied(name, home);
  if (applied) return { spec: applied, applied: true };
  const run = await loadLastRun(name, home);
  return run ? { spec: run.spec, applied: false } : undefined;
}

/**
 * mk stop's record that a cluster is stopped on purpose: mk watch leaves it alone, mk status and mk plan
 * say so; mk start and mk apply clear it. The nodes' own state stays the truth of what runs.
 */
export interface Stopped {
  /** When mk stop ran. */
  at: string;
}

const STOPPED_FILE = 'stopped.json';

export async function saveStopped(name: string, stopped: Stopped, home = mkHome()): Promise<void> {
  await writePrivateFile(clusterStateDir(name, home), STOPPED_FILE, JSON.stringify(stopped) + '\n');
}

export async function loadStopped(name: string, home = mkHome()): Promise<Stopped | undefined> {
  return readJson<Stopped>(join(clusterStateDir(name, home), STOPPED_FILE));
}

export async function clearStopped(name: string, home = mkHome()): Promise<void> {
  await rm(join(clusterStateDir(name, home), STOPPED_FILE), { force: true });
}

export async function hasClusterState(name: string, home = mkHome()): Promise<boolean> {
  return stat(clusterStateDir(name, home)).then(() => true, () => false);
}

/** Forgets a deleted cluster: its last applied spec, last run and lock folder. */
export async function removeClusterState(name: string, home = mkHome()): Promise<void> {
  await rm(clusterStateDir(name, home), { recursive: true, force: true });
}
