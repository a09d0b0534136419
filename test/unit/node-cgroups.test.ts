// A node container the engine left at the host's root in some cgroup v1 controllers cannot hold a
// kubelet of its own: /proc/1/cgroup of real nodes, read on this machine (cgroup v1).
import { describe, expect, it } from 'vitest';
import { hostRootCgroups } from '../../src/kubeadm/prepare.js';

const id = 'libpod-1cb84fb339446c68fd3ecb4a3e20320af7717205cde85f3501850329fbc47964';

describe('hostRootCgroups', () => {
  it("names the controllers podman 4.3's Docker API left a node out of (host cgroup namespace)", () => {
    const podman = [
      '50:hugetlb:/',
      '49:perf_event:/',
      '48:net_cls,net_prio:/',
      `9:name=systemd:/libpod_parent/${id}/init.scope`,
      `8:pids:/libpod_parent/${id}`,
      `4:memory:/libpod_parent/${id}`,
      `1:cpu:/libpod_parent/${id}`,
      `0::/libpod_parent/${id}`,
    ].join('\n');
    expect(hostRootCgroups(podman)).toEqual(['hugetlb', 'net_cls,net_prio', 'perf_event']);
  });

  it('accepts a private cgroup namespace (Docker: every path is /), cgroup v2 and a host namespace nesting every controller', () => {
    expect(hostRootCgroups('12:hugetlb:/\n11:perf_event:/\n4:memory:/\n1:name=systemd:/init.scope\n0::/\n')).toEqual([]);
    expect(hostRootCgroups('0::/init.scope\n')).toEqual([]);
    // Docker 20.10 with --cgroupns=private on cgroup v1 (cgroupfs), once systemd runs in the node.
    expect(hostRootCgroups('9:name=systemd:/init.scope\n8:pids:/init.scope\n7:blkio:/\n6:freezer:/\n5:devices:/init.scope\n4:memory:/init.scope\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/init.scope\n0::/init.scope\n')).toEqual([]);
    expect(hostRootCgroups('12:hugetlb:/docker/abc\n4:memory:/docker/abc\n')).toEqual([]);
  });
});
