// kubeadm join of a worker or an extra control plane. A token is minted for this join through the
// API (15 min TTL), travels only in a 0600 file on the node, and is deleted afterwards. Control planes
// get the cluster's CA material copied from a running control plane (keys 0600), as kind does.
import { caCertHash, createBootstrapToken, deleteBootstrapToken, deleteNodeObject, tokenString } from './api.js';
import { renderJoinConfig } from './config.js';
import { adminAccess, firstAdminAccess, handle, observeNodes, runningNode, type AdminAccess, type BootstrapContext } from './context.js';
import { BootstrapError } from './errors.js';
import { done, skipped, type StepResult } from '../plan.js';
import { formatSeconds } from '../duration.js';
import { installedNote, nodeFacts, readyForKubeadm } from './prepare.js';
import { applyNodeNetwork } from './network.js';
import { JOIN_CONFIG, joinArgv, readSentinel, SENTINEL, writeSentinel } from './node.js';
import type { NodeHandle } from '../drivers/types.js';
import type { Role } from '../spec/types.js';

/** What a new control plane needs from an existing one before kubeadm join. */
export const SHARED_PKI: ReadonlyArray<{ path: string; mode: number }> = [
  { path: '/etc/kubernetes/pki/ca.crt', mode: 0o644 },
  { path: '/etc/kubernetes/pki/ca.key', mode: 0o600 },
  { path: '/etc/kubernetes/pki/sa.key', mode: 0o600 },
  { path: '/etc/kubernetes/pki/sa.pub', mode: 0o644 },
  { path: '/etc/kubernetes/pki/front-proxy-ca.crt', mode: 0o644 },
  { path: '/etc/kubernetes/pki/front-proxy-ca.key', mode: 0o600 },
  { path: '/etc/kubernetes/pki/etcd/ca.crt', mode: 0o644 },
  { path: '/etc/kubernetes/pki/etcd/ca.key', mode: 0o600 },
];

async function copySharedPki(ctx: BootstrapContext, from: AdminAccess, to: NodeHandle): Promise<void> {
  const src = handle(ctx, from.node.name);
  for (const f of SHARED_PKI) {
    const r = await src.exec(['cat', f.path], { signal: ctx.signal });
    if (r.exitCode !== 0) throw new BootstrapError(`control plane ${from.node.name} lacks ${f.path}; cannot add a control plane from it`);
    await to.writeFile(f.path, r.stdout, f.mode, { signal: ctx.signal });
  }
}

export async function kubeadmJoin(ctx: BootstrapContext, name: string, role: Role): Promise<StepResult> {
  const node = await runningNode(ctx, name);
  const h = handle(ctx, name);
  const sentinel = await readSentinel(h, ctx.signal);
  let admin: AdminAccess | undefined;
  if (sentinel) {
    // Joined to this cluster: nothing to do. Joined to an earlier cluster of this name (its control
    // plane was initialised again, so the CA differs): forget that join; it is reset below.
    // With no other control plane to compare with, this node is the cluster (a lone control plane started again).
    if (!sentinel.caCertHash) return skipped('kubeadm already ran on this node');
    admin = await firstAdminAccess(ctx.driver, ctx.cluster, await observeNodes(ctx), { signal: ctx.signal, exclude: [name], cache: ctx.admin });
    if (!admin || sentinel.caCertHash === caCertHash(admin.client.ca)) return skipped('kubeadm already ran on this node');
    await h.run(['rm', '-f', SENTINEL], { signal: ctx.signal });
  }
  const { reset, installed } = await readyForKubeadm(ctx, h);
  admin ??= await adminAccess(ctx, [name]);
  // A Node object left by an earlier machine of this name (its container was removed by hand) would
  // make kubeadm refuse the join; this machine has not joined (no sentinel), so that object is stale.
  const stale = await deleteNodeObject(admin.client, name);
  // During the join the endpoint name resolves to the control plane the node joins through; the
  // network step later points control planes at themselves.
  await applyNodeNetwork(h, ctx.cluster.metadata.name, { apiAddress: admin.node.address! }, ctx.signal);
  if (role === 'control-plane') await copySharedPki(ctx, admin, h);
  const token = await createBootstrapToken(admin.client, ctx.cluster.metadata.name, name);
  const clusterHash = caCertHash(admin.client.ca);
  const t0 = Date.now();
  try {
    const config = renderJoinConfig({
      cluster: ctx.cluster,
      node: { ...nodeFacts(ctx, node), role },
      apiServerEndpoint: `${admin.node.address}:6443`,
      token: tokenString(token),
      caCertHash: clusterHash,
    });
    await h.writeFile(JOIN_CONFIG, config, 0o600, { signal: ctx.signal });
    await h.run(joinArgv(), { signal: ctx.signal });
  } finally {
    await h.exec(['rm', '-f', JOIN_CONFIG], { signal: ctx.signal }).catch(() => undefined);
    await deleteBootstrapToken(admin.client, token.id).catch((err: unknown) => ctx.reporter.debug('could not delete the join token; it expires in 15 min', { error: String(err) }));
  }
  const joinMs = Date.now() - t0;
  await writeSentinel(h, { cluster: ctx.cluster.metadata.name, role, at: new Date().toISOString(), kubernetesVersion: ctx.cluster.spec.kubernetesVersion, caCertHash: clusterHash }, ctx.signal);
  const resetNote = sentinel ? ' (after resetting its join to an earlier cluster)' : reset ? ' (after resetting a half-done join)' : '';
  const notes = `${installedNote(installed)}${stale ? ', replaced a stale Node object' : ''}${resetNote}`;
  return done(`kubeadm join ${formatSeconds(joinMs)} through ${admin.node.name}${notes}`);
}
