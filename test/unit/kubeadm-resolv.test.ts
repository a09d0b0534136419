// The resolvers pods get on nodes in containers. Pure over the texts given.
import { describe, expect, it } from 'vitest';
import { podResolvConf, upstreamNameservers } from '../../src/kubeadm/resolv.js';

describe('upstreamNameservers', () => {
  it('drops loopback (Docker\'s 127.0.0.11, systemd-resolved\'s 127.0.0.53, ::1) and 0.0.0.0, keeps the rest in order', () => {
    const text = ['nameserver 127.0.0.11', 'nameserver 10.0.0.1', 'nameserver ::1', 'nameserver 127.0.0.53', 'nameserver 0.0.0.0', 'nameserver 2001:4860:4860::8888', 'nameserver 1.1.1.1'].join('\n');
    expect(upstreamNameservers(text)).toEqual(['10.0.0.1', '2001:4860:4860::8888', '1.1.1.1']);
  });

  it('reads only nameserver lines: comments, search and options are ignored; duplicates count once', () => {
    const text = '# nameserver 9.9.9.9\nsearch example.com\noptions ndots:0 edns0\n  nameserver   8.8.8.8  \nnameserver 8.8.8.8\n;nameserver 4.4.4.4\n';
    expect(upstreamNameservers(text)).toEqual(['8.8.8.8']);
  });

  it('an empty text or one with only loopback gives nothing', () => {
    expect(upstreamNameservers('')).toEqual([]);
    expect(upstreamNameservers('nameserver 127.0.0.11\noptions ndots:0\n')).toEqual([]);
  });
});

describe('podResolvConf', () => {
  it('uses the host\'s /etc/resolv.conf when it lists a real resolver', () => {
    expect(podResolvConf({ etcResolv: 'nameserver 10.0.0.1\n', resolvedUpstream: 'nameserver 10.0.0.2\n', gateway: '172.18.0.1' })).toBe('nameserver 10.0.0.1\n');
  });

  it('falls back to systemd-resolved\'s upstream list when /etc/resolv.conf is the 127.0.0.53 stub', () => {
    expect(podResolvConf({ etcResolv: 'nameserver 127.0.0.53\noptions edns0\n', resolvedUpstream: 'nameserver 192.168.1.1\nnameserver 192.168.1.2\n' })).toBe(
      'nameserver 192.168.1.1\nnameserver 192.168.1.2\n',
    );
  });

  it('falls back to the network gateway last', () => {
    expect(podResolvConf({ etcResolv: 'nameserver 127.0.0.11\n', resolvedUpstream: 'nameserver 127.0.0.1\n', gateway: '172.18.0.1' })).toBe('nameserver 172.18.0.1\n');
    expect(podResolvConf({ gateway: '172.18.0.1' })).toBe('nameserver 172.18.0.1\n');
  });

  it('keeps at most three nameservers (the resolver reads no more)', () => {
    const many = ['1.1.1.1', '8.8.8.8', '9.9.9.9', '4.4.4.4'].map((n) => `nameserver ${n}`).join('\n');
    expect(podResolvConf({ etcResolv: many })).toBe('nameserver 1.1.1.1\nnameserver 8.8.8.8\nnameserver 9.9.9.9\n');
  });

  it('with nothing usable it refuses, saying pods could not resolve outside names', () => {
    expect(() => podResolvConf({ etcResolv: 'nameserver 127.0.0.11\n' })).toThrow(/no usable DNS resolver.*only loopback/);
    expect(() => podResolvConf({})).toThrow(/pods could not resolve names outside the cluster/);
  });
});
