import { describe, expect, it } from 'vitest';
import type Dockerode from 'dockerode';
import { nodeState, observedCluster } from '../../src/drivers/docker/observed.js';

function container(name: string, overrides: Partial<Dockerode.ContainerInfo> = {}): Dockerode.ContainerInfo {
  return {
    Id: `id-${name}`,
    Names: [`/${name}`],
    Image: 'mk.local/node:dev',
    ImageID: 'sha256:x',
    Command: '/sbin/init',
    Created: 0,
    Ports: [],
    Labels: {
      'mk.dev/cluster': 'demo',
      'mk.dev/component': 'node',
      'mk.dev/node': name,
      'mk.dev/pool': 'cp',
      'mk.dev/role': 'control-plane',
      'mk.dev/ordinal': '1',
      'mk.dev/config-hash': 'h1',
    },
    State: 'running',
    Status: 'Up',
    HostConfig: { NetworkMode: 'mk-demo' },
    NetworkSettings: { Networks: { 'mk-demo': { NetworkID: 'n', EndpointID: 'e', Gateway: '', IPAddress: '172.28.0.2', IPPrefixLen: 24, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, MacAddress: '' } } },
    Mounts: [{ Type: 'volume', Name: `${name}-var`, Source: '', Destination: '/var', Mode: 'z', RW: true, Propagation: '' }],
    ...overrides,
  };
}

const network = {
  Name: 'mk-demo',
  Id: 'net1',
  Created: '',
  Scope: 'local',
  Driver: 'bridge',
  EnableIPv6: false,
  Internal: false,
  Attachable: false,
  Ingress: false,
  ConfigOnly: false,
  IPAM: { Driver: 'default', Config: [{ Subnet: '172.28.0.0/24', Gateway: '172.28.0.1' }] },
  Labels: { 'mk.dev/cluster': 'demo', 'mk.dev/component': 'network' },
} as Dockerode.NetworkInspectInfo;

function volume(name: string, node?: string): Dockerode.VolumeInspectInfo {
  const labels = { 'mk.dev/cluster': 'demo', 'mk.dev/component': 'volume', ...(node ? { 'mk.dev/node': node } : {}) };
  return { Name: name, Driver: 'local', Mountpoint: '', Scope: 'local', Options: null, Labels: labels } as Dockerode.VolumeInspectInfo;
}

describe('observedCluster', () => {
  it('maps labels, state, address and the published API port', () => {
    const cp = container('demo-cp-1', { Ports: [{ IP: '127.0.0.1', PrivatePort: 6443, PublicPort: 41234, Type: 'tcp' }] });
    const w = container('demo-w-1', {
      State: 'exited',
      Status: 'Exited (255) 3 seconds ago',
      Labels: { ...container('x').Labels, 'mk.dev/node': 'demo-w-1', 'mk.dev/pool': 'w', 'mk.dev/role': 'worker', 'mk.dev/ordinal': '2', 'mk.dev/config-hash': 'h2' },
      NetworkSettings: { Networks: { 'mk-demo': { ...container('x').NetworkSettings.Networks['mk-demo']!, IPAddress: '', IPAMConfig: { IPv4Address: '172.28.0.3' } } } },
    });
    const observed = observedCluster('demo', { containers: [w, cp], networks: [network], volumes: [volume('demo-cp-1-var'), volume('demo-w-1-var')] });
    expect(observed.network).toEqual({ id: 'net1', name: 'mk-demo', subnet: '172.28.0.0/24', gateway: '172.28.0.1' });
    expect(observed.nodes).toEqual([
      { name: 'demo-cp-1', pool: 'cp', ordinal: 1, role: 'control-plane', id: 'id-demo-cp-1', state: 'running', address: '172.28.0.2', apiServerPort: 41234, image: 'mk.local/node:dev', configHash: 'h1' },
      // How a node that is not running ended is kept as its detail.
      { name: 'demo-w-1', pool: 'w', ordinal: 2, role: 'worker', id: 'id-demo-w-1', state: 'stopped', address: '172.28.0.3', image: 'mk.local/node:dev', configHash: 'h2', detail: 'Exited (255) 3 seconds ago' },
    ]);
    expect(observed.orphanVolumes).toEqual([]);
  });

  it('reports volumes no container mounts as orphans', () => {
    const observed = observedCluster('demo', { containers: [container('demo-cp-1')], networks: [], volumes: [volume('demo-cp-1-var'), volume('demo-cp-2-var')] });
    expect(observed.orphanVolumes).toEqual(['demo-cp-2-var']);
    expect(observed.orphanVolumeNodes).toBeUndefined();
    expect(observed.network).toBeUndefined();
  });

  it('names the node an orphan volume was made for (its node label)', () => {
    const observed = observedCluster('demo', { containers: [], networks: [], volumes: [volume('demo-w-1-var', 'demo-w-1'), volume('left-over')] });
    expect(observed.orphanVolumes).toEqual(['demo-w-1-var', 'left-over']);
    expect(observed.orphanVolumeNodes).toEqual({ 'demo-w-1-var': 'demo-w-1' });
  });

  it('ignores labelled containers that are not nodes', () => {
    const other = container('helper', { Labels: { 'mk.dev/cluster': 'demo', 'mk.dev/component': 'volume' } });
    expect(observedCluster('demo', { containers: [other], networks: [], volumes: [] }).nodes).toEqual([]);
  });
});

describe('nodeState', () => {
  it('maps Docker states onto the port', () => {
    expect(['running', 'created', 'paused', 'restarting', 'exited', 'dead', 'removing'].map(nodeState)).toEqual(['running', 'created', 'paused', 'restarting', 'stopped', 'dead', 'dead']);
  });
});
