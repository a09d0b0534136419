import { describe, expect, it } from 'vitest';
import type { NodeCreateRequest } from '../../src/drivers/types.js';
import type { DesiredNode } from '../../src/spec/types.js';
import { nodeContainerOptions, nodeLabels, varVolumeName, varVolumeOptions } from '../../src/drivers/docker/container-spec.js';
import type { NodeContainerInput } from '../../src/drivers/docker/container-spec.js';

function desired(overrides: Partial<DesiredNode> = {}): DesiredNode {
  return { name: 'demo-cp-1', cluster: 'demo', pool: 'cp', ordinal: 1, role: 'control-plane', labels: {}, taints: [], ...overrides };
}

function input(overrides: Partial<NodeContainerInput> = {}, request: Partial<NodeCreateRequest> = {}): NodeContainerInput {
  return {
    request: { node: desired(), image: 'mk.local/node:dev', configHash: 'abc123', apiServerPort: 0, ...request },
    network: 'mk-demo',
    ipv4Address: '172.28.0.2',
    privileged: false,
    mountLibModules: true,
    kmsgDevice: false,
    createdBy: '0.1.0',
    ...overrides,
  };
}

describe('nodeContainerOptions', () => {
  it('names the container and host after the node and runs the requested image', () => {
    const o = nodeContainerOptions(input());
    expect(o.name).toBe('demo-cp-1');
    expect(o.Hostname).toBe('demo-cp-1');
    expect(o.Image).toBe('mk.local/node:dev');
    expect(o.Env).toEqual(['container=docker']);
    expect(o.StopSignal).toBe('SIGRTMIN+3');
  });

  it('labels the container with every mk label', () => {
    expect(nodeContainerOptions(input()).Labels).toEqual({
      'mk.dev/cluster': 'demo',
      'mk.dev/component': 'node',
      'mk.dev/node': 'demo-cp-1',
      'mk.dev/pool': 'cp',
      'mk.dev/role': 'control-plane',
      'mk.dev/ordinal': '1',
      'mk.dev/config-hash': 'abc123',
      'mk.dev/address': '172.28.0.2',
      'mk.dev/created-by': '0.1.0',
    });
  });

  it('uses the reduced capability set when not privileged', () => {
    const h = nodeContainerOptions(input()).HostConfig!;
    expect(h.Privileged).toBe(false);
    expect(h.CapAdd).toEqual(['ALL']);
    expect(h.CapDrop).toEqual(['SYS_RESOURCE']);
    expect(h.SecurityOpt).toEqual(['seccomp=unconfined', 'apparmor=unconfined']);
    expect(h).toMatchObject({ MaskedPaths: [], ReadonlyPaths: [] });
    expect(h.DeviceCgroupRules).toEqual(['a *:* rwm']);
  });

  it('uses --privileged alone when asked, with no capability lists or devices', () => {
    const h = nodeContainerOptions(input({ privileged: true, kmsgDevice: true })).HostConfig!;
    expect(h.Privileged).toBe(true);
    expect(h.CapAdd).toBeUndefined();
    expect(h.CapDrop).toBeUndefined();
    expect(h.SecurityOpt).toBeUndefined();
    expect(h.Devices).toBeUndefined();
  });

  it('passes /dev/kmsg only when asked', () => {
    expect(nodeContainerOptions(input()).HostConfig!.Devices).toBeUndefined();
    expect(nodeContainerOptions(input({ kmsgDevice: true })).HostConfig!.Devices).toEqual([
      { PathOnHost: '/dev/kmsg', PathInContainer: '/dev/kmsg', CgroupPermissions: 'rwm' },
    ]);
  });

  it('sets what systemd needs: private cgroupns, tmpfs, no init, restart on failure once', () => {
    const h = nodeContainerOptions(input()).HostConfig! as Record<string, unknown>;
    expect(h.CgroupnsMode).toBe('private');
    expect(h.Tmpfs).toEqual({ '/tmp': '', '/run': '', '/run/lock': '' });
    expect(h.Init).toBe(false);
    expect(h.RestartPolicy).toEqual({ Name: 'on-failure', MaximumRetryCount: 1 });
  });

  it('mounts the /var volume and, when asked, /lib/modules read-only; never /sys/fs/cgroup', () => {
    const withModules = nodeContainerOptions(input()).HostConfig!;
    expect(withModules.Mounts).toEqual([
      { Type: 'volume', Source: 'demo-cp-1-var', Target: '/var', ReadOnly: false },
      { Type: 'bind', Source: '/lib/modules', Target: '/lib/modules', ReadOnly: true },
    ]);
    const without = nodeContainerOptions(input({ mountLibModules: false })).HostConfig!;
    expect(without.Mounts).toEqual([{ Type: 'volume', Source: 'demo-cp-1-var', Target: '/var', ReadOnly: false }]);
    expect(JSON.stringify(nodeContainerOptions(input()))).not.toContain('/sys/fs/cgroup');
    expect(without.Binds).toBeUndefined();
  });

  it('publishes 6443 on 127.0.0.1 for control planes: any free port for 0, else the requested one', () => {
    const any = nodeContainerOptions(input());
    expect(any.ExposedPorts).toEqual({ '6443/tcp': {} });
    expect(any.HostConfig!.PortBindings).toEqual({ '6443/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] });
    const fixed = nodeContainerOptions(input({}, { apiServerPort: 16443 }));
    expect(fixed.HostConfig!.PortBindings).toEqual({ '6443/tcp': [{ HostIp: '127.0.0.1', HostPort: '16443' }] });
    const unset = nodeContainerOptions(input({}, { apiServerPort: undefined }));
    expect(unset.HostConfig!.PortBindings).toEqual({ '6443/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] });
  });

  it('publishes nothing for workers', () => {
    const o = nodeContainerOptions(input({}, { node: desired({ name: 'demo-w-1', pool: 'w', role: 'worker' }), apiServerPort: undefined }));
    expect(o.ExposedPorts).toBeUndefined();
    expect(o.HostConfig!.PortBindings).toBeUndefined();
  });

  it('joins the cluster network with the static address', () => {
    const o = nodeContainerOptions(input());
    expect(o.HostConfig!.NetworkMode).toBe('mk-demo');
    expect(o.NetworkingConfig).toEqual({ EndpointsConfig: { 'mk-demo': { IPAMConfig: { IPv4Address: '172.28.0.2' } } } });
    const dynamic = nodeContainerOptions(input({ ipv4Address: undefined }));
    expect(dynamic.NetworkingConfig).toEqual({ EndpointsConfig: { 'mk-demo': {} } });
  });
});

describe('var volume', () => {
  it('is named after the node and labelled as an mk volume of the node', () => {
    const req: NodeCreateRequest = { node: desired(), image: 'i', configHash: 'h' };
    expect(varVolumeName('demo-cp-1')).toBe('demo-cp-1-var');
    expect(varVolumeOptions(req, '0.1.0')).toEqual({
      Name: 'demo-cp-1-var',
      Labels: { 'mk.dev/cluster': 'demo', 'mk.dev/component': 'volume', 'mk.dev/node': 'demo-cp-1', 'mk.dev/created-by': '0.1.0' },
    });
    expect(nodeLabels(req, 'x')['mk.dev/component']).toBe('node');
  });
});
