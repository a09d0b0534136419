// Shared by the tunnel e2e tests (not a test file): a kubeconfig file with context mk-<cluster>,
// as `mk apply` writes it, made from a test bed's admin KubeConfig.
import { KubeConfig } from '@kubernetes/client-node';
import { writeFile } from 'node:fs/promises';

/**
 * Writes `file` with context mk-<cluster> (and `server` instead of the admin's, when given) beside
 * an unrelated current context, so code under test must select mk's context itself.
 */
export async function writeMkKubeconfig(admin: KubeConfig, cluster: string, file: string, server?: string): Promise<void> {
  const c = admin.getCurrentCluster();
  const u = admin.getCurrentUser();
  if (!c || !u) throw new Error('admin kubeconfig has no current cluster or user');
  const name = `mk-${cluster}`;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      { ...c, name, server: server ?? c.server },
      { name: 'elsewhere', server: 'https://192.0.2.1:6443', skipTLSVerify: true },
    ],
    users: [{ ...u, name }, { name: 'elsewhere', token: 'x' }],
    contexts: [
      { name, cluster: name, user: name },
      { name: 'elsewhere', cluster: 'elsewhere', user: 'elsewhere' },
    ],
    currentContext: 'elsewhere',
  });
  await writeFile(file, kc.exportConfig(), { mode: 0o600 });
}
