// Docker API errors: branch on the HTTP status, never on message text (except where Docker
// gives no distinct status, named at the call site).
import { AbortedError, DriverError, MkError } from '../../errors.js';
import { DockerUnreachableError } from '../errors.js';

export function statusCode(err: unknown): number | undefined {
  const code = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

export function isNotFound(err: unknown): boolean {
  return statusCode(err) === 404;
}

/**
 * What a refused create says is in the way: a name taken ('name': Docker 409), an address range
 * taken ('subnet': Docker 403 on a network create). Podman's Docker API answers both with 500, so
 * for a 500 its message decides ("network name X already used", "the container name X is already in
 * use", "subnet X is already used on the host or by another config").
 */
export function conflictOf(err: unknown): 'name' | 'subnet' | undefined {
  const status = statusCode(err);
  if (status === 409) return 'name';
  if (status === 403) return 'subnet';
  if (status !== 500) return undefined;
  const message = dockerMessage(err);
  if (/\bsubnet\b.*\balready used\b/i.test(message)) return 'subnet';
  if (/\bname\b.*\balready (used|in use)\b|\balready exists\b/i.test(message)) return 'name';
  return undefined;
}

/** Docker's message for an API error (the JSON body's "message"), or the error's own. */
export function dockerMessage(err: unknown): string {
  const json = (err as { json?: { message?: unknown } } | null)?.json;
  if (json && typeof json.message === 'string') return json.message;
  // docker-modem's "(HTTP code 500) server error - <the engine's message>"
  return (err instanceof Error ? err.message : String(err)).replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
}

/** Where the engine was asked, from a connection error: unix:///var/run/docker.sock, tcp://host:port. */
function connectTarget(e: { address?: unknown; port?: unknown; hostname?: unknown }): string {
  if (typeof e.address === 'string') return typeof e.port === 'number' ? `tcp://${e.address}:${e.port}` : `unix://${e.address}`;
  return typeof e.hostname === 'string' ? e.hostname : 'its endpoint';
}

const POINT_ELSEWHERE = 'or point mk at a running engine with DOCKER_HOST or DOCKER_CONTEXT (or spec.driver.docker.host / context)';

/** The engine did not answer at all (no socket, nothing listening, no permission, no route): the cause and what to do. */
export function unreachableEngine(err: unknown): DockerUnreachableError | undefined {
  const e = err as { code?: unknown; syscall?: unknown; address?: unknown; port?: unknown; hostname?: unknown } | null;
  if (!e || (e.syscall !== 'connect' && e.syscall !== 'getaddrinfo') || typeof e.code !== 'string') return undefined;
  const at = connectTarget(e);
  const how = `${e.syscall} ${e.code}`;
  if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') {
    return new DockerUnreachableError(`cannot reach the Docker engine at ${at}: no engine listens there (${how}). Start it (sudo systemctl start docker, or open Docker Desktop; install Docker Engine first where there is none), ${POINT_ELSEWHERE}`, { cause: err });
  }
  if (e.code === 'EACCES' || e.code === 'EPERM') {
    return new DockerUnreachableError(`cannot use the Docker engine at ${at}: permission denied (${how}). Add your user to the docker group (sudo usermod -aG docker $USER, then log in again) or run mk as root, ${POINT_ELSEWHERE}`, { cause: err });
  }
  return new DockerUnreachableError(`cannot reach the Docker engine at ${at} (${how}). Check that it runs and that mk asks the right one: DOCKER_HOST, DOCKER_CONTEXT (or spec.driver.docker.host / context)`, { cause: err });
}

/** runc cannot raise a container's limits above the engine's own (an engine without CAP_SYS_RESOURCE: podman's defaults hit it). */
const RLIMIT = /error setting rlimit type \d+/;
const RLIMIT_HINT =
  "The engine asks for file or process limits above its own: give its containers lower ones (podman: default_ulimits in containers.conf, e.g. [\"nofile=20000:20000\", \"nproc=32768:32768\"], within the service's `ulimit -Hn` and `ulimit -Hu`; scripts/start-podman.sh writes them) and restart the service";

/** Wrap a Docker failure with what mk was doing; mk's own errors and aborts pass through. */
export function wrapDockerError(what: string, err: unknown): MkError {
  if (err instanceof MkError) return err;
  if ((err as { name?: unknown } | null)?.name === 'AbortError') return new AbortedError(`interrupted: ${what}`);
  const unreachable = unreachableEngine(err);
  if (unreachable) return unreachable;
  const status = statusCode(err);
  const message = dockerMessage(err);
  return new DriverError(`docker: ${what}: ${message}${status ? ` (HTTP ${status})` : ''}${RLIMIT.test(message) ? `. ${RLIMIT_HINT}` : ''}`, { cause: err });
}
