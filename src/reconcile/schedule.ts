// Plan -> execution stages. Pure. Stage n+1 starts when stage n is finished; within a stage the
// steps are independent and run up to `concurrency` at a time.
import { indexSteps, orderSteps } from './order.js';
import type { Plan, PlannedStep } from './plan.js';

export interface Stage {
  steps: PlannedStep[];
  /** How many steps of this stage may run at once (1 for control-plane and cluster-wide steps). */
  concurrency: number;
}

export type Schedule = Stage[];

export const DEFAULT_CONCURRENCY = 4;

/**
 * Steps that must run one at a time: anything touching a control plane (etcd membership changes one
 * member at a time) and cluster-wide steps against the API server. Addons are not among them: their
 * dependencies are edges of the plan, they own disjoint objects, and their readiness waits overlap.
 */
export function isSerial(planned: PlannedStep): boolean {
  const step = planned.step;
  switch (step.kind) {
    case 'node.create':
      return step.node.role === 'control-plane';
    case 'node.start':
    case 'node.remove':
    case 'kubeadm.join':
    case 'kubeadm.reset':
      return step.role === 'control-plane';
    case 'kubeadm.init':
    case 'cni.apply':
    case 'kubeconfig.export':
    case 'cluster.wait':
      return true;
    case 'addon.apply':
    case 'addon.remove':
    case 'network.create':
    case 'network.remove':
    case 'volume.remove':
      return false;
  }
}

/**
 * Layers the dependency graph (a step's layer is one more than its deepest dependency), then splits
 * each layer into a serial stage and a parallel stage. Order inside a stage follows the plan order.
 */
export function schedule(plan: Plan, opts: { concurrency?: number } = {}): Schedule {
  const limit = Math.max(1, Math.floor(opts.concurrency ?? DEFAULT_CONCURRENCY));
  const byId = indexSteps(plan.steps);
  const layer = new Map<string, number>();
  for (const s of orderSteps(plan.steps)) {
    layer.set(s.id, Math.max(-1, ...s.dependsOn.map((d) => layer.get(d)!)) + 1);
  }
  const layers: PlannedStep[][] = [];
  for (const s of plan.steps) {
    const n = layer.get(s.id)!;
    (layers[n] ??= []).push(byId.get(s.id)!);
  }
  const stages: Schedule = [];
  for (const steps of layers) {
    const serial = steps.filter(isSerial);
    const parallel = steps.filter((s) => !isSerial(s));
    if (serial.length > 0) stages.push({ steps: serial, concurrency: 1 });
    if (parallel.length > 0) stages.push({ steps: parallel, concurrency: Math.min(limit, parallel.length) });
  }
  return stages;
}
