// The errors of the drivers layer, in one place. They extend src/errors.ts's MkError (DriverError
// for most), so src/main.ts prints their message as is and picks their exit code.
import { DriverError, EXIT, MkError } from '../errors.js';

/** Why an ssh connection failed: only 'unreachable' means "the host does not answer" (observed, not thrown). */
export type FailureKind = 'unreachable' | 'host-key' | 'auth' | 'other';

export class SshConnectError extends DriverError {
  constructor(
    readonly host: string,
    readonly kind: FailureKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The Docker engine does not answer at all (no socket, nothing listening, no permission); the message says what to do. */
export class DockerUnreachableError extends DriverError {}

/** The node image is not on the engine and cannot be pulled. */
export class NodeImageError extends DriverError {
  constructor(readonly image: string, why: string, options?: { cause?: unknown; engine?: 'docker' | 'podman' }) {
    const cli = options?.engine ?? 'docker';
    super(
      `node image ${image} is not on ${cli === 'podman' ? "podman's service" : 'the Docker engine'} and could not be pulled: ${why}. ` +
        `Make it available to the engine (${cli} pull ${image} where a registry is reachable, or ${cli} load -i FILE from a machine that has it${cli === 'podman' ? `, or docker save ${image} | podman load` : ''}), ` +
        `or set spec.driver.${cli}.image to an image the engine has (${cli} images lists them)`,
      options,
    );
  }
}

/** Another mk works on the host: exit 3, like the cluster lock. */
export class HostLockedError extends MkError {
  override readonly exitCode = EXIT.locked;
  constructor(
    readonly node: string,
    readonly where: string,
    readonly holder: { pid: number; host: string; since: string } | undefined,
    staleAfterS: number,
    lockDir: string,
  ) {
    super(
      `host ${node} (${where}) is being worked on by another mk` +
        (holder ? ` (pid ${holder.pid} on ${holder.host}, since ${holder.since})` : '') +
        `; lock ${where}:${lockDir}, taken over only when not refreshed for ${staleAfterS} s`,
    );
  }
}

/** The local ssh host inventory cannot be read: refused, never taken as empty (hosts removed from the spec would be forgotten). */
export class InventoryError extends DriverError {
  constructor(
    readonly path: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(
      `${path}: ${problem}. mk remembers there the hosts it prepared for the cluster, to clean up hosts removed from the spec. ` +
        `Fix the file, or delete it: mk then no longer knows hosts that are not in the spec and leaves them as they are ` +
        `(prepared or joined, with /etc/mk/node.json) for you to clean up.`,
      options,
    );
  }
}

/**
 * One error for failures on several hosts: hosts that failed with the same message share a line
 * naming them all; `cause` is the AggregateError of the original errors. A single failure is
 * returned as it is.
 */
export function hostsFailed(failures: ReadonlyArray<{ host: string; error: Error }>): Error {
  if (failures.length === 1) return failures[0]!.error;
  const byMessage = new Map<string, string[]>();
  for (const { host, error } of failures) byMessage.set(error.message, [...(byMessage.get(error.message) ?? []), host]);
  const lines = [...byMessage].map(([message, hosts]) => `  ${hosts.join(', ')}: ${message.replace(/\n/g, '\n    ')}`);
  const message = `${failures.length} hosts failed:\n${lines.join('\n')}`;
  return new DriverError(message, { cause: new AggregateError(failures.map((f) => f.error), message) });
}
