import { describe, expect, it } from 'vitest';
import { driverFor } from '../../src/drivers/index.js';
import { loadSpecs } from '../../src/spec/load.js';

const SPEC = `apiVersion: mk.dev/v1alpha1
kind: Cluster
metadata:
  name: lab
spec:
  driver:
    name: ssh
    ssh:
      user: deploy
      sudo: true
      identityFile: ~/.ssh/lab
      knownHostsFile: ~/.ssh/known_hosts
      hostKeys:
        10.0.0.10: SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU
      bastion: { host: jump.lab, user: ops }
      parallel: 5
      timeouts: { connect: 10, command: 600, idle: 30, keepaliveInterval: 2, keepaliveCountMax: 4 }
  nodes:
    - name: cp
      role: control-plane
      hosts:
        - { address: 10.0.0.10 }
    - name: w
      role: worker
      hosts:
        - { address: 10.0.0.11, port: 2222, user: root, labels: { tier: web } }
        - { address: node-b, name: big-worker }
`;

describe('ssh specs', () => {
  it('load, validate and build an ssh driver (no connection is made)', async () => {
    const [spec] = await loadSpecs('-', { stdin: () => Promise.resolve(SPEC) });
    expect(spec!.cluster.spec.driver).toMatchObject({ name: 'ssh', ssh: { parallel: 5, timeouts: { connect: 10, keepaliveCountMax: 4 } } });
    const driver = await driverFor(spec!.cluster);
    expect(driver.name).toBe('ssh');
    await driver.close?.();
  });

  it('rejects unknown timeout fields and out-of-range values with positions', async () => {
    const bad = SPEC.replace('idle: 30', 'idel: 30').replace('parallel: 5', 'parallel: 0');
    const err = await loadSpecs('-', { stdin: () => Promise.resolve(bad) }).catch((e: Error) => e);
    expect(String(err)).toContain('-:16:17: spec.driver.ssh.parallel: must be at least 1');
    expect(String(err)).toContain('-:17:46: spec.driver.ssh.timeouts.idel: unknown field "idel"');
  });
});
