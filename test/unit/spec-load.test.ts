// Table tests: every valid fixture loads; every invalid fixture reports exactly the listed problems
// (path, line, column and a message fragment), all at once.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SpecError } from '../../src/errors.js';
import type { SpecProblem } from '../../src/errors.js';
import { KICBASE_IMAGE } from '../../src/spec/defaults.js';
import { parseSpec, parseSpecs } from '../../src/spec/load.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'spec');
const read = (kind: 'valid' | 'invalid', name: string): string => readFileSync(path.join(fixtures, kind, name), 'utf8');

function problemsOf(text: string, file: string): SpecProblem[] {
  try {
    parseSpecs(text, file);
  } catch (err) {
    if (err instanceof SpecError) return err.problems;
    throw err;
  }
  throw new Error(`${file}: expected a SpecError`);
}

type Expected = [path: string, line: number, column: number, fragment: string];

const INVALID: Record<string, Expected[]> = {
  'unknown-field.yaml': [
    ['spec.nodes[0]', 7, 7, 'docker pools need a count'],
    ['spec.nodes[0].cout', 9, 7, 'unknown field "cout" (did you mean "count"?)'],
  ],
  'bad-enums.yaml': [
    ['spec.cri', 6, 8, 'must be one of: containerd, cri-o, docker'],
    ['spec.driver.name', 8, 11, 'must be one of: docker, podman, ssh, qemu'],
  ],
  'hostile-names.yaml': [
    ['metadata.name', 4, 9, 'cluster name "$(id)" is not a valid name'],
    ['spec.nodes[0].name', 7, 13, 'pool name "a;b" is not a valid name'],
    ['spec.nodes[1].name', 10, 13, 'pool name "-rf" is not a valid name'],
    ['spec.nodes[2].name', 13, 13, 'pool name "new\\nline" is not a valid name'],
    ['spec.addons[0].name', 17, 13, 'addon name "../x" is not a valid name'],
    ['metadata.name', 22, 9, 'is 257 characters long; at most 32 are allowed'],
    ['spec.driver.ssh.user', 27, 13, '"root; rm -rf /" is not a valid user name'],
    ['spec.nodes[0].hosts[0].address', 32, 20, '"-oProxyCommand=id" is not an IP address or hostname'],
    ['spec.nodes[0].hosts[0].name', 33, 17, 'node name "$(id)" is not a valid name'],
    ['spec.nodes[0].hosts[1].address', 34, 20, '"10.0.0.1 10.0.0.2" is not an IP address or hostname'],
  ],
  'many-mistakes.yaml': [
    ['metadata.name', 5, 9, 'cluster name "Many_Mistakes" is not a valid name'],
    ['spec.kubernetesVersion', 7, 22, '"v1.30" is not a Kubernetes version like v1.36.3'],
    ['spec.nodes[1].role', 14, 13, 'must be one of: control-plane, worker (did you mean "worker"?)'],
    ['spec.networking.podSubnet', 17, 16, '10.96.0.0/16 overlaps spec.networking.serviceSubnet (10.96.0.0/12, the default)'],
    ['spec.networking.apiServerPort', 18, 20, 'must be 0 or at least 1024'],
    ['spec.loadBalancer.enabled', 20, 14, 'must be true or false, not a string'],
  ],
  'no-control-plane.yaml': [['spec.nodes', 7, 5, 'the cluster needs at least one control-plane node']],
  'too-many-nodes.yaml': [
    ['spec.nodes', 7, 5, 'at most 7 control-plane nodes are supported, got 8'],
    ['spec.nodes', 7, 5, 'at most 100 nodes in total are supported, got 209'],
    ['spec.nodes[2].count', 15, 14, 'must be at most 100'],
  ],
  'driver-mismatch.yaml': [
    ['spec.driver.ssh', 7, 5, 'ssh options given but the driver is docker (the default; set driver.name)'],
    ['spec.nodes[0]', 10, 7, 'docker pools need a count'],
    ['spec.nodes[0].hosts', 12, 7, 'hosts are for the ssh driver; docker pools set count'],
    ['spec.nodes[1]', 14, 7, 'docker pools need a count'],
  ],
  'ssh-pools.yaml': [
    ['spec.nodes[0].count', 11, 7, 'count is for the docker, podman and qemu drivers; ssh pools list hosts'],
    ['spec.nodes[0].hosts[0].name', 14, 17, 'node name "lab-w-1" is also the generated name of spec.nodes[1].hosts[0]'],
    ['spec.nodes[1].hosts[2].name', 22, 17, 'node name "lab-extra" is already used by spec.nodes[1].hosts[1].name'],
    ['spec.nodes[2]', 23, 7, 'ssh pools need hosts'],
    ['spec.nodes[3].hosts[0].address', 28, 20, 'host "10.0.0.2" is already listed at spec.nodes[1].hosts[0]'],
  ],
  'networking.yaml': [
    ['spec.networking.podSubnet', 10, 16, '"10.244.1.0/16" has host bits set (did you mean 10.244.0.0/16?)'],
    ['spec.networking.serviceSubnet', 11, 20, '"300.0.0.0" is not an IPv4 address'],
    ['spec.networking.apiServerPort', 12, 20, 'must be at most 65535'],
    ['spec.networking.cni', 13, 10, '"/etc/cni/calico.yaml" must be relative to the spec file, not absolute'],
    ['spec.loadBalancer.addressPool[0]', 17, 9, 'range "172.30.0.250-172.30.0.200" ends before it starts'],
    ['spec.loadBalancer.addressPool[1]', 18, 9, 'prefix /33 is longer than 32'],
    ['spec.loadBalancer.addressPool[2]', 19, 9, '"banana" is neither a range like 172.30.0.200-172.30.0.250 nor a CIDR'],
  ],
  'overlap.yaml': [['spec.networking.serviceSubnet', 8, 20, '10.96.0.0/12 overlaps spec.networking.podSubnet (10.0.0.0/8)']],
  'addons.yaml': [
    ['spec.addons[0].manifests', 8, 7, 'manifests from a URL need sha256'],
    ['spec.addons[1].manifests', 10, 18, '"http://example.com/app.yaml" must be an https:// URL or a relative path'],
    ['spec.addons[2].manifests', 13, 18, 'manifests "/etc/passwd" must be relative to the spec file, not absolute'],
    ['spec.addons[3].name', 14, 13, 'addon "remote" is already listed at spec.addons[0]'],
    ['spec.addons[4].sha256', 18, 15, '"abc123" is not a SHA-256 digest (64 lowercase hex digits)'],
    ['spec.addons[5].sha256', 21, 7, 'sha256 only applies to manifests from an https:// URL'],
    ['spec.addons[6].name', 22, 13, 'addon name "Bad_Name" is not a valid name'],
    ['spec.addons[6].options', 23, 16, 'must be a mapping, not a list'],
    ['spec.addons[7].sha256', 26, 15, 'must be a string, not a whole number (put it in quotes)'],
  ],
  'labels-taints.yaml': [
    ['metadata.labels["bad key"]', 6, 5, 'label key "bad key" is not valid'],
    ['spec.nodes[0].labels["-leading"]', 14, 9, 'label key "-leading" is not valid'],
    ['spec.nodes[0].labels["a/b/c"]', 15, 9, `label key "a/b/c" has more than one '/'`],
    ['spec.nodes[0].labels["UPPER.example.com/x"]', 16, 9, 'prefix "UPPER.example.com" must be a DNS subdomain'],
    ['spec.nodes[0].labels.long', 17, 15, 'is 64 characters long; at most 63 are allowed'],
    ['spec.nodes[0].labels.number', 18, 17, 'must be a string, not a whole number (put it in quotes)'],
    ['spec.nodes[0].taints[0].value', 21, 18, 'taint value "has space" is not valid'],
    ['spec.nodes[0].taints[1].key', 23, 16, 'taint key "$(id)" is not valid'],
    ['spec.nodes[0].taints[2]', 25, 11, 'missing required field "key"'],
    ['spec.nodes[0].taints[2].effect', 26, 19, 'must be one of: NoSchedule, PreferNoSchedule, NoExecute'],
  ],
  'syntax-error.yaml': [['', 8, 6, 'invalid YAML: bad indentation of a sequence entry']],
  'empty.yaml': [['', 1, 1, 'no cluster in this file']],
  'not-a-cluster.yaml': [
    ['apiVersion', 1, 13, 'must be "mk.dev/v1alpha1"'],
    ['kind', 2, 7, 'must be "Cluster"'],
    ['metadata', 3, 1, 'missing required field "name"'],
    ['data', 5, 1, 'unknown field "data" (known fields: apiVersion, kind, metadata, spec)'],
  ],
  'list-document.yaml': [['', 1, 1, 'must be a mapping, not a list']],
  'duplicate-names.yaml': [['metadata.name', 9, 9, 'cluster "twin" is also defined in duplicate-names.yaml:4:9']],
  'cluster-name-length.yaml': [
    ['metadata.name', 4, 9, 'is 34 characters long; at most 32 are allowed'],
    ['spec.nodes[0].name', 7, 13, 'pool name "abcdefghijklmnopqrstu" is 21 characters long; at most 20 are allowed'],
  ],
  'ssh-options.yaml': [
    ['spec.driver.ssh.port', 9, 13, 'must be at least 1'],
    ['spec.driver.ssh.hostKeys["10.0.0.1"]', 11, 19, '"md5:aa" is not a SHA256 host-key fingerprint'],
    ['spec.driver.ssh.hostKeys["bad host"]', 12, 9, '"bad host" is not an IP address or hostname'],
    ['spec.driver.ssh.bastion', 13, 7, 'missing required field "host"'],
    ['spec.driver.ssh.agent', 15, 7, 'unknown field "agent" (known fields: user, port, identityFile, useAgent,'],
    ['spec.nodes[0].hosts[0].port', 21, 17, 'must be at most 65535'],
    ['spec.nodes[0].hosts[0].user', 22, 17, '"-l" is not a valid user name'],
  ],
  'docker-options.yaml': [
    ['spec.driver.docker.image', 9, 14, '"kindest/node:v1.36.3 --privileged" is not an image reference'],
    ['spec.driver.docker.privileged', 10, 19, 'must be true or false, not a string'],
    ['spec.driver.docker.network', 11, 16, '"../net" is not a valid Docker network name'],
    ['spec.driver.docker.host', 12, 13, '"/var/run/docker.sock" must be a Docker endpoint URL'],
    ['spec.driver.docker.context', 13, 16, '"-H tcp://x" is not a valid Docker context name'],
  ],
};

describe('invalid fixtures', () => {
  it.each(Object.entries(INVALID))('%s reports exactly its problems', (name, expected) => {
    const problems = problemsOf(read('invalid', name), name);
    expect(problems.map((p) => [p.path, p.line, p.column])).toEqual(expected.map(([p, l, c]) => [p, l, c]));
    problems.forEach((p, i) => {
      expect(p.file).toBe(name);
      expect(p.message).toContain(expected[i]![3]);
      expect(p.message).not.toMatch(/\n|\bat .*\.(ts|js):\d+/); // one line, no stack
    });
  });

  it('covers every invalid fixture file', () => {
    expect(readdirSync(path.join(fixtures, 'invalid')).sort()).toEqual(Object.keys(INVALID).sort());
  });

  it('formats the SpecError message as file:line:column: path: message', () => {
    expect(() => parseSpecs(read('invalid', 'unknown-field.yaml'), 'c.yaml')).toThrow(
      'c.yaml:9:7: spec.nodes[0].cout: unknown field "cout" (did you mean "count"?)',
    );
  });
});

describe('valid fixtures', () => {
  it('multi-doc.yaml yields one cluster per document, skipping the empty trailing one', () => {
    const loaded = parseSpecs(read('valid', 'multi-doc.yaml'), '/specs/multi-doc.yaml');
    expect(loaded.map((l) => [l.cluster.metadata.name, l.cluster.spec.cri, l.file])).toEqual([
      ['first', 'containerd', '/specs/multi-doc.yaml'],
      ['second', 'cri-o', '/specs/multi-doc.yaml'],
    ]);
  });

  it('flow-style.yaml loads', () => {
    const [c] = parseSpecs(read('valid', 'flow-style.yaml'), 'flow.yaml');
    expect(c!.cluster.spec.nodes.map((n) => [n.name, n.role, n.count])).toEqual([
      ['cp', 'control-plane', 1],
      ['w', 'worker', 0],
    ]);
  });

  it('docker-full.yaml keeps every option and lists local references', () => {
    const c = parseSpec(read('valid', 'docker-full.yaml'), '/specs/docker-full.yaml');
    // The fixture asks for cri-o with an empty image: the default for cri-o is kicbase.
    expect(c.cluster.spec.cri).toBe('cri-o');
    expect(c.cluster.spec.driver).toEqual({
      name: 'docker',
      docker: {
        image: KICBASE_IMAGE,
        privileged: true,
        network: 'mk-full',
        subnet: '172.31.0.0/24',
        host: 'unix:///var/run/docker.sock',
        context: 'default',
      },
    });
    expect(c.cluster.spec.nodes[1]!.taints).toEqual([
      { key: 'dedicated', value: 'batch', effect: 'NoSchedule' },
      { key: 'example.com/spot', effect: 'PreferNoSchedule' },
    ]);
    expect(c.cluster.spec.loadBalancer).toEqual({ enabled: true, addressPool: ['172.31.0.200-172.31.0.220', '172.31.0.240/28'] });
    expect(c.cluster.spec.addons.map((a) => [a.name, a.enabled])).toEqual([
      ['metrics-server', true],
      ['my-app', true],
      ['remote-app', true],
      ['dashboard', false],
    ]);
    expect(c.cluster.spec.addons[0]!.options).toEqual({ replicas: 2 });
    expect(c.references).toEqual(['/specs/cni/calico.yaml', '/specs/manifests/my-app']);
  });

  it('ssh-full.yaml keeps hosts and sets count from them', () => {
    const c = parseSpec(read('valid', 'ssh-full.yaml'), 'ssh-full.yaml');
    expect(c.cluster.spec.driver.name).toBe('ssh');
    expect(c.cluster.spec.nodes.map((p) => [p.name, p.count, p.hosts?.map((h) => h.address)])).toEqual([
      ['cp', 3, ['10.0.0.11', 'fd00::12', 'cp3.internal.example.com']],
      ['w', 1, ['10.0.0.21']],
    ]);
    expect(c.references).toEqual([]);
  });

  it('anchors.yaml resolves merge keys and aliases', () => {
    const c = parseSpec(read('valid', 'anchors.yaml'), 'anchors.yaml');
    expect(c.cluster.spec.nodes.map((p) => [p.name, p.role, p.count, p.labels])).toEqual([
      ['cp', 'control-plane', 1, { team: 'a' }],
      ['w', 'worker', 1, { team: 'a' }],
    ]);
  });

  it('covers every valid fixture file', () => {
    expect(readdirSync(path.join(fixtures, 'valid')).sort()).toEqual(['anchors.yaml', 'docker-full.yaml', 'flow-style.yaml', 'multi-doc.yaml', 'ssh-full.yaml']);
  });

  it('parseSpec refuses text with more than one cluster', () => {
    expect(() => parseSpec(read('valid', 'multi-doc.yaml'), 'm.yaml')).toThrow('expected one cluster, found 2 YAML documents');
  });
});
