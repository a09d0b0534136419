// bootstrap: kubeadm on a node image without Kubernetes: mk names every missing binary at once and
// points at the way out, instead of failing deep inside kubeadm. Real Docker, the systemd-only node image.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mk } from '../helpers/cli.js';
import { removeLabelled, specYaml, testEnv, uniqueClusterName, type TestEnv } from './helpers.js';

describe('mk apply with kubeadm on an image without Kubernetes', () => {
  let t: TestEnv;
  const name = uniqueClusterName('pq');

  beforeAll(async () => {
    t = await testEnv();
  });
  afterAll(async () => {
    await removeLabelled(name);
    await t.cleanup();
  });

  it('fails the init step naming kubeadm, kubelet and containerd, the image, and bootstrap: none', async () => {
    const file = join(t.dir, 'c.yaml');
    await writeFile(file, specYaml(name, 0, { bootstrap: undefined }));
    const r = await mk(['apply', '-f', file], t.env);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`+ kubeadm init on ${name}-cp-1`);
    const out = r.stdout + r.stderr;
    expect(out).toMatch(new RegExp(`node ${name}-cp-1: the node image \\S+ lacks kubeadm, kubelet, containerd, needed to run Kubernetes with cri: containerd`));
    expect(out).toContain('spec.bootstrap: none');
  });
});
