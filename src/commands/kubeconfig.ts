// mk kubeconfig NAME [-f FILE] [--switch]: print the cluster's admin kubeconfig (context mk-NAME),
// read from a control plane. --switch also merges it into KUBECONFIG / ~/.kube/config as the current context.
import { driverFor } from '../drivers/index.js';
import { EXIT, MkError } from '../errors.js';
import { loadSpecs } from '../spec/load.js';
import type { Cluster } from '../spec/types.js';
import { knownSpec } from '../state.js';
import type { CommandContext } from './context.js';

async function specFor(ctx: CommandContext, name: string, file: string | undefined): Promise<Cluster> {
  if (file) {
    const found = (await loadSpecs(file, { stdin: ctx.stdin })).find((s) => s.cluster.metadata.name === name);
    if (!found) throw new MkError(`${file} does not describe a cluster named "${name}"`);
    return found.cluster;
  }
  // The last applied spec, else the last attempted one: a first apply that failed after kubeadm init still has a control plane to read.
  const known = await knownSpec(name);
  if (!known) throw new MkError(`cluster "${name}" was never applied from this machine; pass -f FILE with its spec`);
  return known.spec;
}

export async function kubeconfig(ctx: CommandContext, name: string, opts: { file?: string; switch?: boolean }): Promise<number> {
  const cluster = await specFor(ctx, name, opts.file);
  if (cluster.spec.bootstrap !== 'kubeadm') throw new MkError(`cluster "${name}" runs without Kubernetes (bootstrap: none)`);
  const { adminAccess } = await import('../kubeadm/context.js');
  const { contextName, entryFromAdminConf, kubeconfigPath, mergeEntry, renderKubeconfig, updateKubeconfig } = await import('../kubeadm/kubeconfig.js');
  const driver = await driverFor(cluster, ctx.reporter.debug.bind(ctx.reporter));
  try {
    const admin = await adminAccess({ driver, cluster, reporter: ctx.reporter, signal: ctx.signal, startedAt: Date.now(), switchContext: false, admin: new Map() });
    const entry = entryFromAdminConf(admin.adminConf, contextName(name), admin.server);
    if (opts.switch) {
      const path = kubeconfigPath();
      await updateKubeconfig(path, (doc) => mergeEntry(doc, entry, { setCurrent: true }));
      ctx.reporter.emit({ type: 'info', cluster: name, message: `context ${entry.name} in ${path} is now the current context` });
    } else {
      ctx.printSecret(renderKubeconfig(mergeEntry(undefined, entry, { setCurrent: true })).trimEnd());
    }
  } finally {
    await driver.close?.();
  }
  return EXIT.ok;
}
