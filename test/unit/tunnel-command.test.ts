// `mk tunnel NAME` refuses clearly when it cannot start: no kubeconfig or context, or an API
// server that refuses connections (loopback only).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tunnel } from '../../src/commands/tunnel.js';
import { MkError } from '../../src/errors.js';
import { testContext as context } from '../helpers/context.js';
import { kubeconfigYaml, testPki } from './fake-apiserver.js';


describe('mk tunnel NAME', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mk-tunnel-cmd-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('fails with the reason when there is no kubeconfig or no context mk-NAME', async () => {
    const missing = path.join(dir, 'missing');
    await expect(tunnel(context(), 'dev', { kubeconfig: missing })).rejects.toThrow(new MkError(`cannot reach the API server of cluster "dev": no kubeconfig at ${missing}`));
    const other = path.join(dir, 'other');
    await writeFile(other, 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts:\n- name: kind-dev\n  context: {cluster: kind-dev, user: kind-dev}\n');
    await expect(tunnel(context(), 'dev', { kubeconfig: other })).rejects.toThrow(/no context mk-dev in .*other/);
  });

  it('fails at once, naming the server, when the API server refuses connections', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    const file = path.join(dir, 'down');
    const pki = await testPki();
    await writeFile(file, kubeconfigYaml('mk-dev', { server: `https://127.0.0.1:${port}`, ca: pki.ca, cert: pki.client.cert, key: pki.client.key }));
    const ctx = context();
    await expect(tunnel(ctx, 'dev', { kubeconfig: file })).rejects.toThrow(
      new MkError(`cannot list the Services of cluster "dev" through https://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`),
    );
    expect(ctx.lines).toEqual([]);
  });
});
