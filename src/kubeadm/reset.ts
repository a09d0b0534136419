// Removing a node from the cluster: drain it through the API, kubeadm reset on it (a control plane
// also leaves etcd), undo mk's node networking, delete its Node object. Every part tolerates "already
// done", so a run killed in the middle converges on the next apply. The machine/container itself is
// removed (docker) or left alone (ssh) by the step after this one.
import { deleteNodeObject, drainNode } from './api.js';
import { WaitingError } from '../errors.js';
import { adminAccess, handle, observeNodes, type AdminAccess, type BootstrapContext } from './context.js';
import { done, skipped, type StepResult } from '../plan.js';
import { formatSeconds } from '../duration.js';
import { removeNodeNetwork } from './network.js';
import { hasKubeadmTraces, INIT_CONFIG, JOIN_CONFIG, readSentinel, resetArgv, SENTINEL } from './node.js';

export interface ResetOptions {
  /** Drain and delete the Node object (false when the whole cluster goes). */
  drain: boolean;
}

export async function kubeadmReset(ctx: BootstrapContext, name: string, o: ResetOptions): Promise<StepResult> {
  const parts: string[] = [];
  let admin: AdminAccess | undefined;
  if (o.drain) {
    try {
      admin = await adminAccess(ctx, [name]);
    } catch (err) {
      if (!(err instanceof WaitingError)) throw err;
      ctx.reporter.debug('no other control plane: skipping drain and Node deletion', { node: name });
    }
  }
  const node = (await observeNodes(ctx)).find((n) => n.name === name);
  // A node that is not running cannot be drained: its pods go when its Node object does.
  if (node?.state === 'running') {
    if (admin) {
      const t0 = Date.now();
      const d = await drainNode(admin.client, name, { signal: ctx.signal });
      if (!d.absent) parts.push(`drained in ${formatSeconds(Date.now() - t0)} (${d.evicted} evicted${d.deleted ? `, ${d.deleted} deleted after the timeout` : ''})`);
    }
    const h = handle(ctx, name);
    if ((await readSentinel(h, ctx.signal)) || (await hasKubeadmTraces(h, ctx.signal))) {
      const t0 = Date.now();
      await h.run(resetArgv(ctx.cluster.spec.cri), { signal: ctx.signal });
      parts.push(`kubeadm reset ${formatSeconds(Date.now() - t0)}`);
    }
    await removeNodeNetwork(h, ctx.signal);
    // mk's kubeadm files go with kubeadm's own (a host stays: leave no cluster config behind).
    await h.exec(['rm', '-f', SENTINEL, INIT_CONFIG, JOIN_CONFIG], { signal: ctx.signal });
  }
  if (admin && (await deleteNodeObject(admin.client, name))) parts.push('Node object deleted');
  return parts.length > 0 ? done(parts.join(', ')) : skipped('not part of the cluster any more');
}
