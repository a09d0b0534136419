// What the Docker driver does differently on podman's Docker-compatible API (Podman 4.3, measured in
// issue 19): the answers below are podman's own, copied from its API service.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { conflictOf, wrapDockerError } from '../../src/drivers/docker/docker-errors.js';
import { NodeImageError } from '../../src/drivers/errors.js';
import { resolvePodmanEndpoint } from '../../src/drivers/docker/endpoint.js';
import { PODMAN_SUBNET_POOL } from '../../src/drivers/docker/engine.js';
import { pickFreeSubnet } from '../../src/drivers/docker/ipam.js';
import { containerAddress } from '../../src/drivers/docker/observed.js';
import { routedSubnets } from '../../src/drivers/host-facts.js';

/** An API error as docker-modem raises it. */
const apiError = (statusCode: number, message: string) => Object.assign(new Error(`(HTTP code ${statusCode}) server error - ${message}`), { statusCode, json: { message } });

describe('conflictOf: what a refused create says is in the way', () => {
  it.each([
    ['Docker: a network or container name taken', apiError(409, 'Conflict. The container name "/a" is already in use'), 'name'],
    ['Docker: an overlapping subnet', apiError(403, 'Pool overlaps with other one on this address space'), 'subnet'],
    ['podman: a network name taken', apiError(500, 'network name mk-pod already used: network already exists'), 'name'],
    ['podman: a container name taken', apiError(500, 'creating container storage: the container name "pod-cp-1" is already in use by abc. You have to remove that container to be able to reuse that name: that name is already in use'), 'name'],
    ['podman: an overlapping subnet', apiError(500, 'subnet 10.89.0.0/24 is already used on the host or by another config'), 'subnet'],
    ['podman: any other 500', apiError(500, 'runc: error setting rlimit type 7: operation not permitted'), undefined],
    ['a 404', apiError(404, 'no such network'), undefined],
  ])('%s', (_, err, kind) => {
    expect(conflictOf(err)).toBe(kind);
  });

  it('says what to do when the engine asks for limits above its own (podman without CAP_SYS_RESOURCE)', () => {
    const err = wrapDockerError('start container pod-cp-1', apiError(500, 'runc create failed: error setting rlimits for ready process: error setting rlimit type 7: operation not permitted'));
    expect(err.message).toContain('(HTTP 500)');
    expect(err.message).toContain('default_ulimits in containers.conf');
    expect(wrapDockerError('x', apiError(500, 'something else')).message).not.toContain('default_ulimits');
  });
});

describe('a node image podman lacks', () => {
  it("says how to get it into podman's store, and the podman option that names it", () => {
    const message = new NodeImageError('mk.local/node:dev', 'repository not found', { engine: 'podman' }).message;
    expect(message).toContain("not on podman's service");
    expect(message).toContain('docker save mk.local/node:dev | podman load');
    expect(message).toContain('spec.driver.podman.image');
    expect(message).not.toContain('Docker engine');
  });
});

describe('resolvePodmanEndpoint', () => {
  const resolve = (env: Record<string, string>, uid = 0, host?: string) => resolvePodmanEndpoint({ options: host ? { host } : {}, env, uid }).host;

  it("finds the service as podman's remote client does", () => {
    expect(resolve({})).toBe('unix:///run/podman/podman.sock');
    expect(resolve({ XDG_RUNTIME_DIR: '/run/user/1000' }, 1000)).toBe('unix:///run/user/1000/podman/podman.sock');
    expect(resolve({ XDG_RUNTIME_DIR: '/run/user/0' }, 0)).toBe('unix:///run/podman/podman.sock');
    expect(resolve({ CONTAINER_HOST: 'unix:///tmp/p.sock' }, 1000)).toBe('unix:///tmp/p.sock');
    expect(resolve({ CONTAINER_HOST: 'unix:///tmp/p.sock' }, 0, 'unix:///srv/podman.sock')).toBe('unix:///srv/podman.sock');
  });

  it('never falls back to the Docker socket or DOCKER_HOST', () => {
    expect(resolve({ DOCKER_HOST: 'unix:///var/run/docker.sock' })).toBe('unix:///run/podman/podman.sock');
  });
});

describe('addresses of stopped podman containers', () => {
  // podman lists a stopped container with IPAMConfig null and no IPAddress.
  const stopped = { Id: 'x', Names: ['/pod-w-1'], Labels: { 'mk.dev/address': '10.89.0.3' }, NetworkSettings: { Networks: { 'mk-pod': { IPAMConfig: null, IPAddress: '' } } } };

  it("come from mk's address label", () => {
    expect(containerAddress(stopped as never, 'mk-pod')).toBe('10.89.0.3');
    expect(containerAddress({ ...stopped, Labels: {} } as never, 'mk-pod')).toBeUndefined();
  });
});

describe('subnets on podman', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mk-routes-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads this machine's routes, the default route left out", async () => {
    mkdirSync(join(dir, 'net'));
    // /proc/net/route as this machine had it: eth0's default route and subnet, docker0, a Docker bridge, a podman bridge.
    writeFileSync(
      join(dir, 'net', 'route'),
      [
        'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
        'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
        'docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
        'br-ce2253410fb9\t00001CAC\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
        'podman1\t0000590A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
        'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
      ].join('\n'),
    );
    const routed = await routedSubnets(dir);
    expect(routed).toEqual(['172.17.0.0/16', '172.28.0.0/24', '10.89.0.0/24', '192.0.2.0/24']);
    // podman's pool, past what the host routes: never one of Docker's.
    expect(pickFreeSubnet(routed, PODMAN_SUBNET_POOL)).toBe('10.89.1.0/24');
    expect(await routedSubnets(join(dir, 'missing'))).toEqual([]);
  });
});
