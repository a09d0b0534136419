// Which failures are worth another try, and the one backoff mk uses for them.
import pRetry from 'p-retry';
import { KubeApiError } from './errors.js';
import { isNetworkErrorCode } from '../net.js';

/** 429, 5xx, or a connection-level failure (its code on the error or on a cause up to four levels down). */
export function isTransient(err: unknown): boolean {
  if (err instanceof KubeApiError) return err.status === 429 || err.status >= 500;
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e !== null && typeof e === 'object'; depth++) {
    if (isNetworkErrorCode((e as { code?: unknown }).code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

export interface RetryOptions {
  /** Further attempts after the first; 0 runs fn once. */
  retries: number;
  /** Aborting stops waiting and rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Told about each transient failure that is retried. */
  onRetry?: (err: unknown, retriesLeft: number) => void;
}

/** Runs fn, retrying transient failures with exponential backoff (0.2 s doubling to 4 s at most). */
export function withRetry<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  if (opts.retries <= 0) return fn();
  return pRetry(fn, {
    retries: opts.retries,
    minTimeout: 200,
    maxTimeout: 4000,
    factor: 2,
    ...(opts.signal ? { signal: opts.signal } : {}),
    shouldRetry: ({ error }) => isTransient(error),
    onFailedAttempt: ({ error, retriesLeft }) => {
      if (retriesLeft > 0 && isTransient(error)) opts.onRetry?.(error, retriesLeft);
    },
  });
}
