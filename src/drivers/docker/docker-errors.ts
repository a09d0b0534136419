// Docker API errors: branch on the HTTP status, never on message text (except where Docker
// gives no distinct status, named at the call site).
import { AbortedError, DriverError, MkError } from '../../errors.js';

export function statusCode(err: unknown): number | undefined {
  const code = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

export function isNotFound(err: unknown): boolean {
  return statusCode(err) === 404;
}

/** Docker's message for an API error (the JSON body's "message"), or the error's own. */
export function dockerMessage(err: unknown): string {
  const json = (err as { json?: { message?: unknown } } | null)?.json;
  if (json && typeof json.message === 'string') return json.message;
  return err instanceof Error ? err.message : String(err);
}

/** Wrap a Docker failure with what mk was doing; mk's own errors and aborts pass through. */
export function wrapDockerError(what: string, err: unknown): MkError {
  if (err instanceof MkError) return err;
  if ((err as { name?: unknown } | null)?.name === 'AbortError') return new AbortedError(`interrupted: ${what}`);
  const status = statusCode(err);
  return new DriverError(`docker: ${what}: ${dockerMessage(err)}${status ? ` (HTTP ${status})` : ''}`, { cause: err });
}
