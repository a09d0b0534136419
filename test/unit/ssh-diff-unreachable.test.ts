import { describe, expect, it } from 'vitest';
import { planCluster } from '../../src/reconcile/phases.js';
import { aCluster, observedOf } from './builders.js';

describe('diff with an unreachable ssh host', () => {
  it('plans nothing over an unreachable node and says why', () => {
    const cluster = aCluster('dev').overSsh().withWorkers(2).build();
    const actual = observedOf(cluster);
    const w2 = actual.nodes.find((n) => n.name === 'dev-worker-2')!;
    Object.assign(w2, { state: 'unreachable', configHash: '', detail: 'connection to dev-worker-2 lost: Keepalive timeout' });
    const plan = planCluster(cluster, actual);
    expect(plan.steps).toEqual([]);
    expect(plan.warnings.join('\n')).toMatch(/dev-worker-2 is unreachable and left alone this run: connection to dev-worker-2 lost/);
  });

  it('still creates the reachable hosts that are missing', () => {
    const cluster = aCluster('dev').overSsh().withWorkers(2).build();
    const actual = observedOf(cluster);
    actual.nodes = actual.nodes.filter((n) => n.name !== 'dev-worker-1');
    const w2 = actual.nodes.find((n) => n.name === 'dev-worker-2')!;
    w2.state = 'unreachable';
    const ids = planCluster(cluster, actual).steps.map((s) => s.id);
    expect(ids).toContain('node.create:dev-worker-1');
    expect(ids.some((id) => id.endsWith('dev-worker-2'))).toBe(false);
  });
});

describe('diff with host notes (ssh facts)', () => {
  it('the create step says what the host has and needs', () => {
    const cluster = aCluster('dev').overSsh().withWorkers(1).build();
    const actual = observedOf(cluster);
    actual.nodes = actual.nodes.filter((n) => n.name !== 'dev-worker-1');
    actual.hostNotes = { 'dev-worker-1': 'debian 12 x86_64 systemd; needs: not installed: kubeadm' };
    const step = planCluster(cluster, actual).steps.find((s) => s.id === 'node.create:dev-worker-1')!;
    expect(step.reason).toBe('missing; host: debian 12 x86_64 systemd; needs: not installed: kubeadm');
  });
});
