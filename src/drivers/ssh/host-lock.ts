// A lock file on each host so two mk processes never work on the same host at once: created
// atomically (noclobber), owned by a random token, refreshed (mtime) while held, stale after a short
// timeout (the holder died), removed only by its owner. The scripts are constants; values arrive as
// positional parameters through shellQuote.
import { EXIT, MkError } from '../../errors.js';

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

export class HostLockedError extends MkError {
  override readonly exitCode = EXIT.locked;
  constructor(
    readonly node: string,
    readonly where: string,
    readonly holder: LockOwner | undefined,
    staleAfterS: number,
  ) {
    super(
      `host ${node} (${where}) is being worked on by another mk` +
        (holder ? ` (pid ${holder.pid} on ${holder.host}, since ${holder.since})` : '') +
        `; lock ${where}:${LOCK_DIR}, taken over only when not refreshed for ${staleAfterS} s`,
    );
  }
}
