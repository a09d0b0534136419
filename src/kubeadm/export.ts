// kubeconfig.export: mk-<cluster> merged into the user's kubeconfig (KUBECONFIG's first file or
// ~/.kube/config), pointing at the API server as reachable from this machine.
import { adminAccess, type BootstrapContext } from './context.js';
import { endpointUrl } from './endpoint.js';
import { done, type StepResult } from '../plan.js';
import { contextName, entryFromAdminConf, kubeconfigPath, mergeEntry, updateKubeconfig } from './kubeconfig.js';

export async function exportKubeconfig(ctx: BootstrapContext): Promise<StepResult> {
  const admin = await adminAccess(ctx);
  const name = contextName(ctx.cluster.metadata.name);
  const server = endpointUrl(ctx.cluster, await ctx.driver.observe(ctx.cluster.metadata.name, ctx.signal)) ?? admin.server;
  const entry = entryFromAdminConf(admin.adminConf, name, server);
  const path = kubeconfigPath();
  await updateKubeconfig(path, (doc) => mergeEntry(doc, entry, { setCurrent: ctx.switchContext }));
  return done(`context ${name} in ${path} (server ${server})`);
}
