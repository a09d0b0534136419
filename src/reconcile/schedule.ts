// Plan -> execution stages. Pure. Stage n+1 starts when stage n is finished; within a stage the
// steps are independent and run up to `concurrency` at a time.
import { DEFAULT_CONCURRENCY } from '../plan.js';
import { indexSteps, orderSteps } from './order.js';
import { kindOf, rankOf, type ClusterPlan, type ClusterStep } from './phases.js';

export interface Stage {
  steps: ClusterStep[];
  /** How many steps of this stage may run at once (1 for control-plane and cluster-wide steps). */
  concurrency: number;
}

export type Schedule = Stage[];


/**
 * Layers the dependency graph (a step's layer is one more than its deepest dependency), then splits
 * each layer into a serial stage and a parallel stage. Order inside a stage follows the plan order.
 */
export function schedule(plan: ClusterPlan, opts: { concurrency?: number } = {}): Schedule {
  const limit = Math.max(1, Math.floor(opts.concurrency ?? DEFAULT_CONCURRENCY));
  const byId = indexSteps(plan.steps);
  const layer = new Map<string, number>();
  for (const s of orderSteps(plan.steps, rankOf)) {
    layer.set(s.id, Math.max(-1, ...s.dependsOn.map((d) => layer.get(d)!)) + 1);
  }
  const layers: ClusterStep[][] = [];
  for (const s of plan.steps) {
    const n = layer.get(s.id)!;
    (layers[n] ??= []).push(byId.get(s.id)!);
  }
  const stages: Schedule = [];
  for (const steps of layers) {
    // Steps that must run one at a time (a control plane's etcd membership, cluster-wide steps) get a serial stage.
    const serial = steps.filter((s) => kindOf(s.step).serial(s.step));
    const parallel = steps.filter((s) => !kindOf(s.step).serial(s.step));
    if (serial.length > 0) stages.push({ steps: serial, concurrency: 1 });
    if (parallel.length > 0) stages.push({ steps: parallel, concurrency: Math.min(limit, parallel.length) });
  }
  return stages;
}
