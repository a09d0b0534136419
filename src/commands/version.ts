// mk version [-o json|yaml]: mk's version and commit, Node's, the Docker engine's (asked, 3 s at most)
// and the Kubernetes version a spec gets when it names none. `mk --version` prints mk's alone, asking nothing.
import { dockerEngineVersion } from '../drivers/index.js';
import type { DockerEngine } from '../drivers/docker/driver.js';
import { EXIT } from '../errors.js';
import { formatDocument, machineFormat } from '../output/format.js';
import { DEFAULT_KUBERNETES_VERSION } from '../spec/defaults.js';
import { COMMIT, VERSION } from '../version.js';
import type { CommandContext } from './context.js';

/** How long mk version waits for the Docker engine. */
const DOCKER_TIMEOUT_MS = 3000;

export interface Versions {
  mk: { version: string; commit: string };
  node: string;
  /** The engine's version, or why it could not be asked. */
  docker: DockerEngine | { error: string };
  kubernetes: { default: string };
}

export function formatVersions(v: Versions): string {
  const commit = v.mk.commit === 'unknown' ? 'commit unknown' : `commit ${v.mk.commit.slice(0, 12)}`;
  const docker = 'error' in v.docker ? `not reachable: ${v.docker.error}` : `${v.docker.version} (API ${v.docker.apiVersion}${v.docker.host ? `, ${v.docker.host}` : ''})`;
  return [`mk          ${v.mk.version} (${commit})`, `node        ${v.node}`, `docker      ${docker}`, `kubernetes  ${v.kubernetes.default} (default for specs that name none)`].join('\n');
}

export async function version(ctx: CommandContext): Promise<number> {
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(DOCKER_TIMEOUT_MS)]);
  const docker = await dockerEngineVersion(signal).catch((err: unknown): { error: string } => {
    ctx.signal.throwIfAborted();
    const message = err instanceof Error ? err.message : String(err);
    return { error: signal.aborted ? `no answer within ${DOCKER_TIMEOUT_MS / 1000} s` : message };
  });
  const versions: Versions = { mk: { version: VERSION, commit: COMMIT }, node: process.version, docker, kubernetes: { default: DEFAULT_KUBERNETES_VERSION } };
  const machine = machineFormat(ctx.output);
  ctx.print(machine ? formatDocument(machine, versions) : formatVersions(versions));
  return EXIT.ok;
}
