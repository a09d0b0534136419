// The one polling helper of every test tier (not a test file: vitest only collects *.test.ts).
import { ApiException } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Calls `check` every `intervalMs` until it returns something other than undefined or false, and
 * returns that. A throw counts as "not yet". After `timeoutMs` it fails naming `what` (a function
 * is called only then, e.g. to show a process's output so far) and the last error.
 */
export async function eventually<T>(what: string | (() => string), check: () => Promise<T | false | undefined>, timeoutMs = 30_000, intervalMs = 250): Promise<T> {
  const start = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() - start > timeoutMs) {
      const why = last instanceof ApiException ? ` (last: HTTP ${last.code})` : last instanceof Error ? ` (last: ${last.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms: ${typeof what === 'string' ? what : what()}${why}`);
    }
    await sleep(intervalMs);
  }
}
