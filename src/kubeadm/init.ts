// kubeadm init on the first control plane. Skips when the sentinel says it ran; a half-done init
// (files but no sentinel, e.g. a killed run) is reset and run again.
import { caCertHash, deleteKubeadmInitTokens } from './api.js';
import { renderInitConfig } from './config.js';
import { adminAccess, handle, runningNode, type BootstrapContext } from './context.js';
import { done, skipped, type StepResult } from '../plan.js';
import { formatSeconds } from '../duration.js';
import { applyNodeNetwork } from './network.js';
import { INIT_CONFIG, initArgv, readSentinel, writeSentinel } from './node.js';
import { installedNote, nodeFacts, readyForKubeadm } from './prepare.js';

export async function kubeadmInit(ctx: BootstrapContext, name: string): Promise<StepResult> {
  const node = await runningNode(ctx, name);
  const h = handle(ctx, name);
  if (await readSentinel(h, ctx.signal)) return skipped('kubeadm already ran on this node');
  const { kubelet, reset, installed } = await readyForKubeadm(ctx, h);
  await applyNodeNetwork(h, ctx.cluster.metadata.name, { apiAddress: node.address! }, ctx.signal);
  await h.writeFile(INIT_CONFIG, renderInitConfig({ cluster: ctx.cluster, node: nodeFacts(ctx, node), kubelet }), 0o600, { signal: ctx.signal });
  const t0 = Date.now();
  await h.run(initArgv(), { signal: ctx.signal });
  const initMs = Date.now() - t0;
  // kubeadm init mints a 24 h token; mk mints one per join instead.
  const admin = await adminAccess(ctx);
  const removed = await deleteKubeadmInitTokens(admin.client);
  ctx.reporter.debug('deleted kubeadm init bootstrap tokens', { count: removed });
  await writeSentinel(h, { cluster: ctx.cluster.metadata.name, role: 'control-plane', at: new Date().toISOString(), kubernetesVersion: ctx.cluster.spec.kubernetesVersion, caCertHash: caCertHash(admin.client.ca) }, ctx.signal);
  return done(`kubeadm init ${formatSeconds(initMs)}${installedNote(installed)}${reset ? ' (after resetting a half-done init)' : ''}`);
}
