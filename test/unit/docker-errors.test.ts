// An engine that does not answer is named with its address, the cause and what to do; other Docker
// failures keep what mk was doing.
import { describe, expect, it } from 'vitest';
import { dockerMessage, unreachableEngine, wrapDockerError } from '../../src/drivers/docker/docker-errors.js';
import { DockerUnreachableError, NodeImageError } from '../../src/drivers/errors.js';

const netError = (fields: Record<string, unknown>) => Object.assign(new Error(`${String(fields.syscall)} ${String(fields.code)}`), fields);

describe('Docker errors', () => {
  it('a missing socket: no engine listens there; start it or set DOCKER_HOST / DOCKER_CONTEXT', () => {
    const err = wrapDockerError('list containers', netError({ code: 'ENOENT', syscall: 'connect', address: '/var/run/docker.sock' }));
    expect(err).toBeInstanceOf(DockerUnreachableError);
    expect(err.message).toBe(
      'cannot reach the Docker engine at unix:///var/run/docker.sock: no engine listens there (connect ENOENT). ' +
        'Start it (sudo systemctl start docker, or open Docker Desktop; install Docker Engine first where there is none), ' +
        'or point mk at a running engine with DOCKER_HOST or DOCKER_CONTEXT (or spec.driver.docker.host / context)',
    );
    expect(err.message).not.toMatch(/scripts\/|npm run/);
  });

  it('a refused TCP port, a socket without permission, an unknown host', () => {
    expect(unreachableEngine(netError({ code: 'ECONNREFUSED', syscall: 'connect', address: '10.0.0.5', port: 2375 }))?.message).toMatch(/^cannot reach the Docker engine at tcp:\/\/10\.0\.0\.5:2375: no engine listens there \(connect ECONNREFUSED\)/);
    expect(unreachableEngine(netError({ code: 'EACCES', syscall: 'connect', address: '/var/run/docker.sock' }))?.message).toMatch(/^cannot use the Docker engine at unix:\/\/\/var\/run\/docker\.sock: permission denied \(connect EACCES\)\. Add your user to the docker group/);
    expect(unreachableEngine(netError({ code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname: 'docker.example' }))?.message).toMatch(/^cannot reach the Docker engine at docker\.example \(getaddrinfo ENOTFOUND\)\. Check that it runs/);
  });

  it('a node image the engine lacks and cannot pull: what a user does, no repository script', () => {
    const pull = new Error('(HTTP code 500) server error - Get "https://mk.local/v2/": dial tcp: lookup mk.local: no such host');
    const err = new NodeImageError('mk.local/node:v1', dockerMessage(pull));
    expect(err.message).toBe(
      'node image mk.local/node:v1 is not on the Docker engine and could not be pulled: Get "https://mk.local/v2/": dial tcp: lookup mk.local: no such host. ' +
        'Make it available to the engine (docker pull mk.local/node:v1 where a registry is reachable, or docker load -i FILE from a machine that has it), ' +
        'or set spec.driver.docker.image to an image the engine has (docker images lists them)',
    );
    expect(err.message).not.toMatch(/npm run|scripts\//);
  });

  it('an API error is not an unreachable engine', () => {
    const api = Object.assign(new Error('(HTTP code 500) server error'), { statusCode: 500, json: { message: 'boom' } });
    expect(unreachableEngine(api)).toBeUndefined();
    expect(wrapDockerError('list containers', api).message).toBe('docker: list containers: boom (HTTP 500)');
  });
});
