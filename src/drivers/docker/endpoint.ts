// Resolve which Docker engine to talk to, the way the docker CLI does, as a pure function of
// (options, environment, file reader) so every precedence case is unit-testable.
//
// Precedence (docker CLI, cli/command: resolveContextName + default endpoint):
//   1. options.host                      (like `docker -H`)
//   2. options.context                   (like `docker --context`; beats DOCKER_HOST, as in the CLI)
//   3. DOCKER_HOST
//   4. DOCKER_CONTEXT
//   5. currentContext in <config>/config.json, config = $DOCKER_CONFIG or ~/.docker
//   6. unix:///var/run/docker.sock
// A context named "default" means DOCKER_HOST when set, else the default socket.
// Context metadata: <config>/contexts/meta/<sha256(name)>/meta.json (Endpoints.docker.Host);
// TLS material: <config>/contexts/tls/<sha256(name)>/docker/{ca,cert,key}.pem.
// Not supported (docker-modem has no switch for it): SkipTLSVerify; npipe:// and fd:// hosts.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { DriverError } from '../../errors.js';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';
/** Where root's `podman system service` listens (podman.socket's path). */
export const DEFAULT_PODMAN_SOCKET = '/run/podman/podman.sock';

export type EndpointSource = 'option-host' | 'option-context' | 'env-host' | 'env-context' | 'config-context' | 'default';

export interface ResolvedEndpoint {
  /** Where the choice came from, for messages and debug logs. */
  source: EndpointSource;
  /** The endpoint as a URL (unix:///..., tcp://..., ssh://...). */
  host: string;
  /** Context name when a context was used. */
  context?: string;
  /** Options for `new Dockerode(...)`. Every connection key is set, so the modem's own DOCKER_HOST defaults cannot leak in. */
  dockerOptions: Dockerode.DockerOptions;
}

export interface EndpointInputs {
  options: { host?: string; context?: string };
  env: Readonly<Record<string, string | undefined>>;
  /** Home directory (os.homedir()). */
  homeDir: string;
  /** Returns the file's bytes, or undefined when it does not exist. */
  readFile: (path: string) => Buffer | undefined;
}

interface ContextMeta {
  Name?: string;
  Endpoints?: { docker?: { Host?: string; SkipTLSVerify?: boolean } };
}

interface Tls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export function dockerConfigDir(env: EndpointInputs['env'], homeDir: string): string {
  return env.DOCKER_CONFIG || join(homeDir, '.docker');
}

export function contextDirName(name: string): string {
  return createHash('sha256').update(name).digest('hex');
}

export function resolveDockerEndpoint(inputs: EndpointInputs): ResolvedEndpoint {
  const { options, env } = inputs;
  if (options.host && options.context) {
    throw new DriverError(`docker driver: set either host ("${options.host}") or context ("${options.context}"), not both`);
  }
  if (options.host) return fromHost('option-host', options.host, envTls(inputs), env);
  if (options.context) return fromContext('option-context', options.context, inputs);
  if (env.DOCKER_HOST) return fromHost('env-host', env.DOCKER_HOST, envTls(inputs), env);
  if (env.DOCKER_CONTEXT) return fromContext('env-context', env.DOCKER_CONTEXT, inputs);
  const current = currentContext(inputs);
  if (current) return fromContext('config-context', current, inputs);
  return fromHost('default', `unix://${DEFAULT_DOCKER_SOCKET}`, undefined, env);
}

/**
 * podman's API service, as podman's own remote client finds it: options.host, CONTAINER_HOST, then
 * root's /run/podman/podman.sock, or a user's $XDG_RUNTIME_DIR/podman/podman.sock (rootless).
 */
export function resolvePodmanEndpoint(inputs: Pick<EndpointInputs, 'options' | 'env'> & { uid: number }): ResolvedEndpoint {
  const { options, env } = inputs;
  if (options.host) return fromHost('option-host', options.host, undefined, env);
  if (env.CONTAINER_HOST) return fromHost('env-host', env.CONTAINER_HOST, undefined, env);
  const socket = inputs.uid !== 0 && env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'podman', 'podman.sock') : DEFAULT_PODMAN_SOCKET;
  return fromHost('default', `unix://${socket}`, undefined, env);
}

function currentContext(inputs: EndpointInputs): string | undefined {
  const file = join(dockerConfigDir(inputs.env, inputs.homeDir), 'config.json');
  const raw = inputs.readFile(file);
  if (!raw) return undefined;
  const parsed = parseJson(raw, file) as { currentContext?: unknown };
  return typeof parsed.currentContext === 'string' && parsed.currentContext !== '' ? parsed.currentContext : undefined;
}

function fromContext(source: EndpointSource, name: string, inputs: EndpointInputs): ResolvedEndpoint {
  if (name === 'default') {
    const host = inputs.env.DOCKER_HOST || `unix://${DEFAULT_DOCKER_SOCKET}`;
    return { ...fromHost(source, host, inputs.env.DOCKER_HOST ? envTls(inputs) : undefined, inputs.env), context: name };
  }
  const config = dockerConfigDir(inputs.env, inputs.homeDir);
  const dir = contextDirName(name);
  const metaFile = join(config, 'contexts', 'meta', dir, 'meta.json');
  const raw = inputs.readFile(metaFile);
  if (!raw) throw new DriverError(`docker context "${name}" not found (no ${metaFile})`);
  const meta = parseJson(raw, metaFile) as ContextMeta;
  const endpoint = meta.Endpoints?.docker;
  if (!endpoint?.Host) throw new DriverError(`docker context "${name}" has no docker endpoint (${metaFile})`);
  const tlsDir = join(config, 'contexts', 'tls', dir, 'docker');
  const tls: Tls = {
    ca: inputs.readFile(join(tlsDir, 'ca.pem')),
    cert: inputs.readFile(join(tlsDir, 'cert.pem')),
    key: inputs.readFile(join(tlsDir, 'key.pem')),
  };
  const hasTls = tls.ca !== undefined || tls.cert !== undefined;
  return { ...fromHost(source, endpoint.Host, hasTls ? tls : undefined, inputs.env), context: name };
}

/** TLS settings from DOCKER_TLS_VERIFY / DOCKER_TLS / DOCKER_CERT_PATH, as the CLI reads them. */
function envTls(inputs: EndpointInputs): Tls | undefined {
  const { env } = inputs;
  if (!isTrue(env.DOCKER_TLS_VERIFY) && !isTrue(env.DOCKER_TLS) && !env.DOCKER_CERT_PATH) return undefined;
  const dir = env.DOCKER_CERT_PATH || dockerConfigDir(env, inputs.homeDir);
  return {
    ca: inputs.readFile(join(dir, 'ca.pem')),
    cert: inputs.readFile(join(dir, 'cert.pem')),
    key: inputs.readFile(join(dir, 'key.pem')),
  };
}

function fromHost(source: EndpointSource, host: string, tls: Tls | undefined, env: EndpointInputs['env']): ResolvedEndpoint {
  const withScheme = host.includes('://') ? host : `tcp://${host}`;
  if (withScheme.startsWith('unix://')) {
    const socketPath = withScheme.slice('unix://'.length) || DEFAULT_DOCKER_SOCKET;
    return {
      source,
      host: `unix://${socketPath}`,
      dockerOptions: { socketPath, host: undefined, port: undefined, protocol: undefined, ca: undefined, cert: undefined, key: undefined },
    };
  }
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new DriverError(`invalid docker host "${host}" (expected unix:///path, tcp://host:port or ssh://user@host)`);
  }
  if (url.protocol === 'ssh:') {
    return {
      source,
      host: withScheme,
      dockerOptions: {
        socketPath: undefined,
        protocol: 'ssh',
        host: url.hostname,
        port: url.port ? Number(url.port) : 22,
        username: url.username ? decodeURIComponent(url.username) : undefined,
        sshOptions: env.SSH_AUTH_SOCK ? { agent: env.SSH_AUTH_SOCK } : {},
        ca: undefined,
        cert: undefined,
        key: undefined,
      },
    };
  }
  if (url.protocol !== 'tcp:' && url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new DriverError(`unsupported docker host scheme "${url.protocol}" in "${host}" (use unix://, tcp:// or ssh://)`);
  }
  const secure = url.protocol === 'https:' || tls !== undefined;
  const port = url.port ? Number(url.port) : secure ? 2376 : 2375;
  const options: Dockerode.DockerOptions = {
    socketPath: undefined,
    protocol: secure ? 'https' : 'http',
    host: url.hostname,
    port,
    ca: tls?.ca,
    cert: tls?.cert,
    key: tls?.key,
  };
  return { source, host: withScheme, dockerOptions: options };
}

function isTrue(value: string | undefined): boolean {
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';
}

function parseJson(raw: Buffer, file: string): unknown {
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch (err) {
    throw new DriverError(`cannot parse ${file}: ${(err as Error).message}`);
  }
}

/** The real file reader for resolveDockerEndpoint: missing files are undefined, other errors throw. */
export function readFileIfExists(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  }
}
