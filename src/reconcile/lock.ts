// One mk per cluster at a time. A proper-lockfile lock under <MK_HOME>/clusters/<name>/, refreshed
// every 5 s and stale after 15 s; the holder (pid, host, since) is written beside it, so a second mk
// fails fast naming the holder, and a holder on this host whose process is gone is taken over at once.
import { setMaxListeners } from 'node:events';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { LockedError } from '../errors.js';
import { clusterStateDir, mkHome } from '../state.js';

export interface LockHolder {
  pid: number;
  host: string;
  since: string;
}

export interface ClusterLock {
  readonly holder: LockHolder;
  /** Aborted if the lock was lost (e.g. the process stalled past the stale time and another mk took over). */
  readonly compromised: AbortSignal;
  /** Idempotent. */
  release(): Promise<void>;
}

export interface LockOptions {
  /** mk's home; default $MK_HOME, then ~/.mk. */
  home?: string;
  /** Milliseconds before a lock whose holder stopped refreshing it counts as stale (min 2000). */
  staleMs?: number;
  /** Refresh interval in milliseconds. */
  updateMs?: number;
}

const STALE_MS = 15_000;
const UPDATE_MS = 5_000;

function isHolder(v: unknown): v is LockHolder {
  const h = v as Partial<LockHolder> | null;
  return typeof h === 'object' && h !== null && typeof h.pid === 'number' && typeof h.host === 'string' && typeof h.since === 'string';
}

async function readHolder(file: string): Promise<LockHolder | undefined> {
  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    return isHolder(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

async function writeHolder(file: string, holder: LockHolder): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(holder) + '\n', { mode: 0o600 });
  await rename(tmp, file);
}

/** False only when the process certainly does not exist (ESRCH); EPERM means it exists as another user. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function isLocked(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ELOCKED';
}

/**
 * Runs fn holding the cluster's lock. fn's signal aborts with the caller's, or when another mk takes
 * the lock over (this one stalled past the stale time): then the steps stop and this rejects with a
 * LockedError naming the new holder (exit 3).
 */
export async function withClusterLock<T>(cluster: string, signal: AbortSignal, fn: (signal: AbortSignal) => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const lock = await acquireClusterLock(cluster, opts);
  try {
    const held = AbortSignal.any([signal, lock.compromised]);
    setMaxListeners(0, held); // as the command's signal (src/main.ts)
    return await fn(held);
  } catch (err) {
    if (!lock.compromised.aborted || signal.aborted) throw err;
    throw new LockedError(cluster, await readHolder(join(clusterStateDir(cluster, opts.home ?? mkHome()), 'lock')), { lost: true });
  } finally {
    await lock.release();
  }
}

export async function acquireClusterLock(cluster: string | { metadata: { name: string } }, opts: LockOptions = {}): Promise<ClusterLock> {
  const name = typeof cluster === 'string' ? cluster : cluster.metadata.name;
  const dir = clusterStateDir(name, opts.home ?? mkHome());
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const target = join(dir, 'lock');
  const compromised = new AbortController();
  const lockOpts = {
    realpath: false,
    stale: opts.staleMs ?? STALE_MS,
    update: opts.updateMs ?? UPDATE_MS,
    retries: 0,
    onCompromised: (err: Error) => compromised.abort(err),
  };

  // Taking the lock and writing the holder happen under a short-lived gate, so the holder file always
  // matches the lock and a takeover can never remove a lock another mk has just taken.
  const releaseGate = await lockfile.lock(join(dir, 'gate'), {
    realpath: false,
    stale: 2_000,
    retries: { retries: 40, factor: 1, minTimeout: 25, maxTimeout: 100 },
  });
  let releaseLock: () => Promise<void>;
  try {
    try {
      releaseLock = await lockfile.lock(target, lockOpts);
    } catch (err) {
      if (!isLocked(err)) throw err;
      const holder = await readHolder(target);
      if (!holder || holder.host !== hostname() || pidAlive(holder.pid)) throw new LockedError(name, holder);
      // The holder was killed on this host: its lock is dead even though not yet stale.
      await rm(`${target}.lock`, { recursive: true, force: true });
      releaseLock = await lockfile.lock(target, lockOpts);
    }
    const me: LockHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
    try {
      await writeHolder(target, me);
    } catch (err) {
      await releaseLock();
      throw err;
    }
    let released = false;
    return {
      holder: me,
      compromised: compromised.signal,
      async release() {
        if (released) return;
        released = true;
        const current = await readHolder(target);
        if (current && current.pid === me.pid && current.since === me.since) await rm(target, { force: true });
        try {
          await releaseLock();
        } catch {
          // Already lost (compromised): nothing of ours is left to release.
        }
      },
    };
  } finally {
    await releaseGate().catch(() => {});
  }
}
