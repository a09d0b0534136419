import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFileIfExists, resolveDockerEndpoint } from '../../src/drivers/docker/endpoint.js';
import type { EndpointInputs } from '../../src/drivers/docker/endpoint.js';
import { DriverError } from '../../src/errors.js';

let home: string;

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'mk-endpoint-'));
});
afterEach(() => {
  rmSync(home, { recursive: true, force: true });
});

function inputs(options: EndpointInputs['options'] = {}, env: EndpointInputs['env'] = {}): EndpointInputs {
  return { options, env, homeDir: home, readFile: readFileIfExists };
}

function writeContext(configDir: string, name: string, host: string, tls?: { ca: string; cert: string; key: string }): void {
  const id = createHash('sha256').update(name).digest('hex');
  const meta = join(configDir, 'contexts', 'meta', id);
  mkdirSync(meta, { recursive: true });
  writeFileSync(join(meta, 'meta.json'), JSON.stringify({ Name: name, Metadata: {}, Endpoints: { docker: { Host: host, SkipTLSVerify: false } } }));
  if (tls) {
    const dir = join(configDir, 'contexts', 'tls', id, 'docker');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'ca.pem'), tls.ca);
    writeFileSync(join(dir, 'cert.pem'), tls.cert);
    writeFileSync(join(dir, 'key.pem'), tls.key);
  }
}

function writeConfig(configDir: string, currentContext: string): void {
  mkdirSync(configDir, { recursive: true });
  writeFileSync(join(configDir, 'config.json'), JSON.stringify({ auths: {}, currentContext }));
}

describe('resolveDockerEndpoint', () => {
  it('defaults to the unix socket', () => {
    const r = resolveDockerEndpoint(inputs());
    expect(r.source).toBe('default');
    expect(r.host).toBe('unix:///var/run/docker.sock');
    expect(r.dockerOptions.socketPath).toBe('/var/run/docker.sock');
    expect(r.dockerOptions.host).toBeUndefined();
  });

  it('takes the host option over DOCKER_HOST and contexts', () => {
    writeConfig(join(home, '.docker'), 'remote');
    writeContext(join(home, '.docker'), 'remote', 'tcp://10.0.0.5:2375');
    const r = resolveDockerEndpoint(inputs({ host: 'tcp://127.0.0.1:2375' }, { DOCKER_HOST: 'unix:///other.sock', DOCKER_CONTEXT: 'remote' }));
    expect(r.source).toBe('option-host');
    expect(r.dockerOptions).toMatchObject({ protocol: 'http', host: '127.0.0.1', port: 2375, socketPath: undefined });
  });

  it('takes the context option over DOCKER_HOST, as `docker --context` does', () => {
    writeContext(join(home, '.docker'), 'remote', 'tcp://10.0.0.5:2375');
    const r = resolveDockerEndpoint(inputs({ context: 'remote' }, { DOCKER_HOST: 'unix:///other.sock' }));
    expect(r.source).toBe('option-context');
    expect(r.context).toBe('remote');
    expect(r.dockerOptions).toMatchObject({ host: '10.0.0.5', port: 2375, protocol: 'http' });
  });

  it('refuses host and context together', () => {
    expect(() => resolveDockerEndpoint(inputs({ host: 'unix:///a.sock', context: 'x' }))).toThrow(DriverError);
  });

  it('takes DOCKER_HOST over DOCKER_CONTEXT and the current context', () => {
    writeConfig(join(home, '.docker'), 'remote');
    writeContext(join(home, '.docker'), 'remote', 'tcp://10.0.0.5:2375');
    const r = resolveDockerEndpoint(inputs({}, { DOCKER_HOST: 'unix:///run/user/1000/docker.sock', DOCKER_CONTEXT: 'remote' }));
    expect(r.source).toBe('env-host');
    expect(r.dockerOptions.socketPath).toBe('/run/user/1000/docker.sock');
  });

  it('takes DOCKER_CONTEXT over the current context', () => {
    writeConfig(join(home, '.docker'), 'a');
    writeContext(join(home, '.docker'), 'a', 'tcp://10.0.0.1:2375');
    writeContext(join(home, '.docker'), 'b', 'tcp://10.0.0.2:2375');
    const r = resolveDockerEndpoint(inputs({}, { DOCKER_CONTEXT: 'b' }));
    expect(r.source).toBe('env-context');
    expect(r.dockerOptions.host).toBe('10.0.0.2');
  });

  it('uses currentContext from config.json, under DOCKER_CONFIG when set', () => {
    const configDir = join(home, 'elsewhere');
    writeConfig(configDir, 'lab');
    writeContext(configDir, 'lab', 'unix:///lab/docker.sock');
    writeConfig(join(home, '.docker'), 'ignored');
    const r = resolveDockerEndpoint(inputs({}, { DOCKER_CONFIG: configDir }));
    expect(r.source).toBe('config-context');
    expect(r.context).toBe('lab');
    expect(r.dockerOptions.socketPath).toBe('/lab/docker.sock');
  });

  it('reads the context TLS material and switches to https', () => {
    writeContext(join(home, '.docker'), 'secure', 'tcp://docker.example:2376', { ca: 'CA', cert: 'CERT', key: 'KEY' });
    const r = resolveDockerEndpoint(inputs({ context: 'secure' }));
    expect(r.dockerOptions.protocol).toBe('https');
    expect(String(r.dockerOptions.ca)).toBe('CA');
    expect(String(r.dockerOptions.cert)).toBe('CERT');
    expect(String(r.dockerOptions.key)).toBe('KEY');
  });

  it('reads TLS from DOCKER_CERT_PATH when DOCKER_TLS_VERIFY is set', () => {
    const certs = join(home, 'certs');
    mkdirSync(certs);
    writeFileSync(join(certs, 'ca.pem'), 'CA2');
    writeFileSync(join(certs, 'cert.pem'), 'CERT2');
    writeFileSync(join(certs, 'key.pem'), 'KEY2');
    const r = resolveDockerEndpoint(inputs({}, { DOCKER_HOST: 'tcp://10.1.1.1:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs }));
    expect(r.dockerOptions).toMatchObject({ protocol: 'https', host: '10.1.1.1', port: 2376 });
    expect(String(r.dockerOptions.ca)).toBe('CA2');
  });

  it('maps ssh:// to docker-modem ssh options with the agent', () => {
    const r = resolveDockerEndpoint(inputs({ host: 'ssh://builder@build.example:2222' }, { SSH_AUTH_SOCK: '/tmp/agent.sock' }));
    expect(r.dockerOptions).toMatchObject({ protocol: 'ssh', host: 'build.example', port: 2222, username: 'builder', sshOptions: { agent: '/tmp/agent.sock' } });
    expect(resolveDockerEndpoint(inputs({ host: 'ssh://build.example' })).dockerOptions.port).toBe(22);
  });

  it('treats a bare host:port as tcp', () => {
    expect(resolveDockerEndpoint(inputs({ host: '10.2.2.2:2375' })).dockerOptions).toMatchObject({ protocol: 'http', host: '10.2.2.2', port: 2375 });
  });

  it('resolves the "default" context to DOCKER_HOST or the socket', () => {
    expect(resolveDockerEndpoint(inputs({ context: 'default' })).dockerOptions.socketPath).toBe('/var/run/docker.sock');
    writeConfig(join(home, '.docker'), 'default');
    expect(resolveDockerEndpoint(inputs()).dockerOptions.socketPath).toBe('/var/run/docker.sock');
  });

  it('names the missing context and its meta file', () => {
    expect(() => resolveDockerEndpoint(inputs({ context: 'nope' }))).toThrow(/docker context "nope" not found .*meta\.json/);
  });

  it('rejects unsupported schemes', () => {
    expect(() => resolveDockerEndpoint(inputs({ host: 'npipe:////./pipe/docker_engine' }))).toThrow(/unsupported docker host scheme/);
  });
});
