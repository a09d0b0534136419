// Small pure helpers behind the semantic rules, and validateCluster on raw data.
import { describe, expect, it } from 'vitest';
import { checkDns1123Label, checkLabelValue, checkQualifiedName, suggest } from '../../src/spec/names.js';
import { isHostAddress, parseAddressRange, parseCidr } from '../../src/net.js';
import { validateCluster } from '../../src/spec/validate.js';

describe('names', () => {
  it.each(['$(id)', 'a;b', '-rf', '../x', 'a'.repeat(254), 'new\nline', 'UPPER', 'a_b', 'trailing-', ''])('refuses %j as a DNS-1123 label', (name) => {
    expect(checkDns1123Label(name, 63)).toBeDefined();
  });

  it.each(['a', 'dev', 'my-cluster-2', '0abc'])('accepts %j', (name) => {
    expect(checkDns1123Label(name, 63)).toBeUndefined();
  });

  it('checks qualified names and label values like Kubernetes', () => {
    expect(checkQualifiedName('node-role.kubernetes.io/control-plane')).toBeUndefined();
    expect(checkQualifiedName('app.kubernetes.io/name')).toBeUndefined();
    expect(checkQualifiedName('Tier_1.x')).toBeUndefined();
    expect(checkQualifiedName('/x')).toContain('prefix');
    expect(checkQualifiedName('a/')).toContain('empty name');
    expect(checkQualifiedName('x'.repeat(64))).toContain('at most 63');
    expect(checkLabelValue('')).toBeUndefined();
    expect(checkLabelValue('v1.2_3-a')).toBeUndefined();
    expect(checkLabelValue('-x')).toContain('not valid');
  });

  it('suggests close field names only', () => {
    expect(suggest('cout', ['name', 'role', 'count'])).toBe('count');
    expect(suggest('podsubnet', ['podSubnet', 'serviceSubnet'])).toBe('podSubnet');
    expect(suggest('zzz', ['name', 'role'])).toBeUndefined();
  });
});

describe('net', () => {
  it('parses CIDRs and refuses host bits, bad octets and long prefixes', () => {
    expect(parseCidr('10.96.0.0/12')).toEqual({ ok: true, cidr: { start: 0x0a600000, end: 0x0a6fffff, prefix: 12 } });
    expect(parseCidr('10.96.0.1/12')).toEqual({ ok: false, reason: '"10.96.0.1/12" has host bits set (did you mean 10.96.0.0/12?)' });
    expect(parseCidr('10.0.0.256/24').ok).toBe(false);
    expect(parseCidr('010.0.0.0/8').ok).toBe(false);
    expect(parseCidr('10.0.0.0').ok).toBe(false);
  });

  it('parses address ranges', () => {
    expect(parseAddressRange('10.0.0.1-10.0.0.3')).toEqual({ ok: true, range: { start: 0x0a000001, end: 0x0a000003 } });
    expect(parseAddressRange('10.0.0.0/30')).toEqual({ ok: true, range: { start: 0x0a000000, end: 0x0a000003 } });
    expect(parseAddressRange('10.0.0.3-10.0.0.1').ok).toBe(false);
    expect(parseAddressRange('auto').ok).toBe(false);
  });

  it.each([
    ['10.0.0.1', true],
    ['fd00::1', true],
    ['node-1.example.com', true],
    ['localhost', true],
    ['-oProxyCommand=x', false],
    ['a b', false],
    ['host;id', false],
    ['1.2.3.999', false],
    ['', false],
  ])('isHostAddress(%j) is %s', (address, expected) => {
    expect(isHostAddress(address)).toBe(expected);
  });
});

describe('validateCluster', () => {
  const base = { apiVersion: 'mk.dev/v1alpha1', kind: 'Cluster', metadata: { name: 'ok' } };

  it('accepts the minimal document', () => {
    expect(validateCluster(base)).toEqual([]);
  });

  it('reports a semantic message instead of the bare schema pattern for the same field', () => {
    expect(validateCluster({ ...base, metadata: { name: 'Bad!' } })).toEqual([
      { path: 'metadata.name', message: expect.stringContaining('cluster name "Bad!" is not a valid name') as string },
    ]);
  });

  it('reports non-mapping documents once', () => {
    expect(validateCluster('just a string')).toEqual([{ path: '', message: 'must be a mapping, not a string' }]);
  });

  it('describes anyOf failures as alternatives', () => {
    expect(validateCluster({ ...base, spec: { loadBalancer: { addressPool: 5 } } })).toEqual([
      { path: 'spec.loadBalancer.addressPool', message: 'must be "auto" or a list' },
    ]);
  });

  it('refuses control characters in paths', () => {
    expect(validateCluster({ ...base, spec: { networking: { cni: 'cni\n.yaml' }, addons: [{ name: 'a', manifests: 'x\ty' }] } })).toEqual([
      { path: 'spec.networking.cni', message: 'cni (auto, none or a manifest path) "cni\\n.yaml" contains control characters' },
      { path: 'spec.addons[0].manifests', message: 'manifests "x\\ty" contains control characters' },
    ]);
  });

  it('counts ssh hosts as nodes for the control-plane bounds', () => {
    const hosts = Array.from({ length: 8 }, (_, i) => ({ address: `10.0.0.${i + 1}` }));
    const issues = validateCluster({ ...base, spec: { driver: { name: 'ssh' }, nodes: [{ name: 'cp', role: 'control-plane', hosts }] } });
    expect(issues).toEqual([{ path: 'spec.nodes', message: 'at most 7 control-plane nodes are supported, got 8' }]);
  });
});
