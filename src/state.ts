// mk's local state directory. It caches (last applied spec, locks); it never decides:
// the cluster itself, found by labels, is the source of truth.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
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

export async function loadLastApplied(name: string, home = mkHome()): Promise<Cluster | undefined> {
  try {
    return JSON.parse(await readFile(join(clusterStateDir(name, home), 'last-applied.json'), 'utf8')) as Cluster;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
