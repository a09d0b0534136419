// A lock file on each host so two mk processes never work on the same host at once: created
// atomically (noclobber), owned by a random token, refreshed (mtime) while held, stale after a short
// timeout (the holder died), removed only by its owner. The scripts are constants; values arrive as
// positional parameters through shellQuote. HostLocks holds this run's locks.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { DriverError } from '../../errors.js';
import { HostLockedError } from '../errors.js';
import type { Host, SshLog } from './pool.js';
import { ROOT_CHECKED } from './remote.js';
import type { Remote } from './remote.js';

export const LOCK_DIR = '/run/lock/mk';

export function lockPath(cluster: string): string {
  return `${LOCK_DIR}/${cluster}.lock`;
}

export interface LockOwner {
  pid: number;
  host: string;
  since: string;
  token: string;
}

/** $1 path, $2 owner JSON line, $3 stale seconds, $4 token. Prints "acquired", "taken-over AGE" or "held" + the holder. */
export const ACQUIRE_SCRIPT = [
  'umask 077',
  'mkdir -p "${1%/*}" || exit 2',
  'create() { ( set -C; printf "%s\\n" "$2" > "$1" ) 2>/dev/null; }',
  'if create "$@"; then echo acquired; exit 0; fi',
  'if grep -qF -- "$4" "$1" 2>/dev/null; then touch "$1"; echo acquired; exit 0; fi',
  'age=$(( $(date +%s) - $(stat -c %Y "$1" 2>/dev/null || date +%s) ))',
  'if [ "$age" -gt "$3" ] && mv -f "$1" "$1.stale.$$" 2>/dev/null; then',
  // Another mk may have taken it over between our look and our move: a fresh lock goes back.
  '  again=$(( $(date +%s) - $(stat -c %Y "$1.stale.$$" 2>/dev/null || echo 0) ))',
  '  if [ "$again" -le "$3" ]; then ln "$1.stale.$$" "$1" 2>/dev/null; rm -f "$1.stale.$$"; echo held; cat "$1" 2>/dev/null; exit 0; fi',
  '  rm -f "$1.stale.$$"',
  '  if create "$@"; then echo "taken-over $age"; exit 0; fi',
  'fi',
  'echo held; cat "$1" 2>/dev/null; exit 0',
].join('\n');

/** $1 path, $2 token. Prints "ok" or "lost". */
export const REFRESH_SCRIPT = 'if grep -qF -- "$2" "$1" 2>/dev/null; then touch "$1" && echo ok; else echo lost; fi';

/** $1 path, $2 token. */
export const RELEASE_SCRIPT = 'if grep -qF -- "$2" "$1" 2>/dev/null; then rm -f "$1"; fi; exit 0';

export type AcquireOutcome = { status: 'acquired'; takenOverAfterS?: number } | { status: 'held'; holder?: LockOwner };

export function parseAcquire(stdout: string): AcquireOutcome {
  const [first = '', ...rest] = stdout.trim().split('\n');
  if (first === 'acquired') return { status: 'acquired' };
  const m = /^taken-over (\d+)$/.exec(first);
  if (m) return { status: 'acquired', takenOverAfterS: Number(m[1]) };
  const holder = parseOwner(rest.join('\n'));
  return { status: 'held', ...(holder ? { holder } : {}) };
}

export function parseOwner(text: string): LockOwner | undefined {
  try {
    const o = JSON.parse(text.trim()) as Partial<LockOwner>;
    if (typeof o.pid === 'number' && typeof o.host === 'string' && typeof o.since === 'string' && typeof o.token === 'string') {
      return { pid: o.pid, host: o.host, since: o.since, token: o.token };
    }
  } catch {
    /* not ours, or empty */
  }
  return undefined;
}

interface HeldLock {
  host: Host;
  timer: NodeJS.Timeout;
  /** Why the lock is no longer ours (another mk took it over). */
  lost?: string;
}

export interface HostLocksConfig {
  cluster: string;
  remote: Remote;
  /** Stale after (default 30 s), refreshed every (default 10 s). */
  staleMs?: number | undefined;
  refreshMs?: number | undefined;
  log: SshLog;
}

/** The cluster's lock on each host this run works on: taken on first use, refreshed while held, released by release(). */
export class HostLocks {
  private readonly held = new Map<string, Promise<HeldLock>>();
  private readonly owner: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString(), token: randomBytes(12).toString('hex') };
  private readonly path: string;
  private readonly staleS: number;
  private readonly refreshMs: number;

  constructor(private readonly config: HostLocksConfig) {
    this.path = lockPath(config.cluster);
    this.staleS = Math.max(1, Math.round((config.staleMs ?? 30_000) / 1000));
    this.refreshMs = config.refreshMs ?? 10_000;
  }

  /** Takes the host's lock unless this run holds it already; throws HostLockedError when another mk does. */
  async lock(h: Host, signal?: AbortSignal): Promise<void> {
    let p = this.held.get(h.name);
    if (!p) {
      p = this.acquire(h, signal);
      this.held.set(h.name, p);
      p.catch(() => this.held.delete(h.name));
    }
    const held = await p;
    if (held.lost) throw new DriverError(`lost the lock on host ${h.name} (${h.address}): ${held.lost}`);
  }

  /**
   * Releases every lock, only over a connection still open: a host that went away keeps its lock
   * until it goes stale, rather than holding up the end of the run for another connect timeout.
   */
  async release(): Promise<void> {
    const locks = [...this.held.values()];
    this.held.clear();
    await Promise.all(
      locks.map(async (p) => {
        try {
          const held = await p;
          clearInterval(held.timer);
          await this.config.remote.runIfConnected(held.host, ['sh', '-c', RELEASE_SCRIPT, 'mk-unlock', this.path, this.owner.token], { asRoot: true, timeoutMs: 5_000 });
        } catch {
          /* a lock we never got, or a host gone: it goes stale on its own */
        }
      }),
    );
  }

  private async acquire(h: Host, signal?: AbortSignal): Promise<HeldLock> {
    const { remote, log } = this.config;
    const r = await remote.run(h, ['sh', '-c', ACQUIRE_SCRIPT, 'mk-lock', this.path, JSON.stringify(this.owner), String(this.staleS), this.owner.token], { ...ROOT_CHECKED, signal });
    const outcome = parseAcquire(r.stdout);
    if (outcome.status === 'held') throw new HostLockedError(h.name, h.address, outcome.holder, this.staleS, LOCK_DIR);
    if (outcome.takenOverAfterS !== undefined) log('ssh stale host lock taken over', { node: h.name, host: h.address, ageS: outcome.takenOverAfterS });
    const refresh = (): void => {
      remote
        .run(h, ['sh', '-c', REFRESH_SCRIPT, 'mk-lock-refresh', this.path, this.owner.token], ROOT_CHECKED)
        .then((res) => {
          if (res.stdout.trim() !== 'ok') held.lost = `${LOCK_DIR} no longer names this mk`;
        })
        .catch((err: unknown) => log('ssh lock refresh failed', { node: h.name, error: String(err) }));
    };
    const held: HeldLock = { host: h, timer: setInterval(refresh, this.refreshMs) };
    held.timer.unref();
    return held;
  }
}
