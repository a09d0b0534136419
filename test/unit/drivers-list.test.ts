// listAllClusters: Docker's clusters and the ssh ones remembered in $MK_HOME, without loading the
// ssh library, and with a Docker engine that does not answer (loopback port 1) as a warning only.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { capabilitiesOf } from '../../src/drivers/capabilities.js';
import { clusterForName, driverForName, listAllClusters } from '../../src/drivers/index.js';
import { HostInventory } from '../../src/drivers/ssh/inventory.js';

const ssh2 = vi.hoisted(() => ({ loaded: false }));
vi.mock('ssh2', () => {
  ssh2.loaded = true;
  return { default: {} };
});

let home: string;
const saved = { docker: process.env.DOCKER_HOST, podman: process.env.CONTAINER_HOST };
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'mk-list-'));
  process.env.DOCKER_HOST = 'tcp://127.0.0.1:1';
  // No podman service: its clusters are left out without a warning.
  process.env.CONTAINER_HOST = `unix://${join(home, 'no-podman.sock')}`;
});
afterEach(async () => {
  if (saved.docker === undefined) delete process.env.DOCKER_HOST;
  else process.env.DOCKER_HOST = saved.docker;
  if (saved.podman === undefined) delete process.env.CONTAINER_HOST;
  else process.env.CONTAINER_HOST = saved.podman;
  await rm(home, { recursive: true, force: true });
});

describe('listAllClusters', () => {
  it('lists ssh clusters from the host inventory when Docker cannot be asked, and says why Docker was not', async () => {
    await new HostInventory(home).remember('edge', 'edge-cp-1', { address: '10.0.0.5', pool: 'cp', ordinal: 1, role: 'control-plane', configHash: 'h' });
    await new HostInventory(home).remember('alpha', 'alpha-w-1', { address: '10.0.0.6', pool: 'w', ordinal: 1, role: 'worker', configHash: 'h' });
    const { names, warnings } = await listAllClusters({ home });
    expect(names).toEqual(['alpha', 'edge']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^Docker clusters are not listed: the Docker engine could not be asked \(.*ECONNREFUSED/);
    expect(ssh2.loaded).toBe(false);
  });

  it('reports an unreadable inventory as a warning naming the file', async () => {
    await new HostInventory(home).remember('edge', 'edge-cp-1', { address: '10.0.0.5', pool: 'cp', ordinal: 1, role: 'control-plane', configHash: 'h' });
    await writeFile(join(home, 'clusters', 'edge', 'ssh-hosts.json'), '{');
    const { names, warnings } = await listAllClusters({ home });
    expect(names).toEqual([]);
    expect(warnings).toContainEqual(expect.stringContaining(`ssh cluster not listed: ${join(home, 'clusters', 'edge', 'ssh-hosts.json')}: not valid JSON`));
  });

  it('observes a cluster known only by name through the driver that remembers it', async () => {
    expect((await driverForName('nothing-here', undefined, home)).name).toBe('docker');
    expect(ssh2.loaded).toBe(false);
    await new HostInventory(home).remember('edge', 'edge-cp-1', { address: '10.0.0.5', pool: 'cp', ordinal: 1, role: 'control-plane', configHash: 'h' });
    const driver = await driverForName('edge', undefined, home);
    expect(driver.name).toBe('ssh');
    expect(ssh2.loaded).toBe(true);
    await driver.close?.();
  });

  it('assumes a spec for a cluster known only by name: its driver with defaults and no nodes, enough to reach an API server', async () => {
    const docker = await clusterForName('nothing-here', undefined, home);
    expect(docker.driver.name).toBe('docker');
    expect(docker.cluster).toMatchObject({ metadata: { name: 'nothing-here' }, spec: { driver: { name: 'docker' }, nodes: [], bootstrap: 'kubeadm' } });
    await new HostInventory(home).remember('edge', 'edge-cp-1', { address: '10.0.0.5', pool: 'cp', ordinal: 1, role: 'control-plane', configHash: 'h' });
    const ssh = await clusterForName('edge', undefined, home);
    expect(ssh.driver.name).toBe('ssh');
    const node = { name: 'edge-cp-1', pool: 'cp', ordinal: 1, role: 'control-plane' as const, id: 'x', state: 'running' as const, address: '10.0.0.5', image: '', configHash: 'h' };
    expect(capabilitiesOf(ssh.cluster).apiServerUrl(node)).toBe('https://10.0.0.5:6443');
    await ssh.driver.close?.();
  });
});
