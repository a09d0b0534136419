// Hosts (ssh driver): the resolv.conf the kubelet hands to CoreDNS must name a resolver that is not
// loopback, or CoreDNS forwards to itself and exits (its loop plugin).
import { describe, expect, it } from 'vitest';
import { kubeletResolvProblem } from '../../src/kubeadm/prepare.js';

describe('kubeletResolvProblem', () => {
  it('accepts a file with a reachable resolver, loopback ones beside it included', () => {
    expect(kubeletResolvProblem('n', '/etc/resolv.conf', 'nameserver 10.0.0.2\n')).toBeUndefined();
    expect(kubeletResolvProblem('n', '/etc/resolv.conf', 'search lan\nnameserver 127.0.0.1\nnameserver 192.168.1.1\n')).toBeUndefined();
    expect(kubeletResolvProblem('n', '/run/systemd/resolve/resolv.conf', 'nameserver 2001:db8::53\n')).toBeUndefined();
  });

  it("names the host, the file and its loopback resolvers (Docker's 127.0.0.11, a local dnsmasq)", () => {
    expect(kubeletResolvProblem('lab-w-1', '/etc/resolv.conf', 'nameserver 127.0.0.11\noptions ndots:0\n')).toMatch(
      /^node lab-w-1: \/etc\/resolv\.conf lists only loopback nameservers \(127\.0\.0\.11\); .* detect a loop/,
    );
    expect(kubeletResolvProblem('n', '/etc/resolv.conf', 'nameserver 127.0.0.1\nnameserver ::1\n')).toContain('(127.0.0.1, ::1)');
  });

  it('refuses a file without any nameserver (the resolver library then asks 127.0.0.1)', () => {
    expect(kubeletResolvProblem('n', '/etc/resolv.conf', '')).toContain('/etc/resolv.conf lists no nameserver');
  });
});
