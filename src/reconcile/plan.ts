// The plan: what `mk plan` prints and `mk apply` executes. Pure data, no secrets.
import type { AddonSpec, DesiredNode, Role } from '../spec/types.js';

export type Action = 'create' | 'change' | 'replace' | 'remove' | 'start';

export type Step =
  | { kind: 'network.create'; cluster: string; name?: string; subnet?: string }
  | { kind: 'network.remove'; cluster: string }
  | { kind: 'node.create'; node: DesiredNode; image: string; configHash: string; apiServerPort?: number }
  | { kind: 'node.start'; node: string; role: Role }
  | { kind: 'node.remove'; node: string; role: Role }
  | { kind: 'volume.remove'; volume: string }
  | { kind: 'kubeadm.init'; node: string }
  | { kind: 'kubeadm.join'; node: string; role: Role }
  /** drain: drain the node and delete its Node object first (false when the whole cluster goes). */
  | { kind: 'kubeadm.reset'; node: string; role: Role; drain: boolean }
  /** The cluster network: API endpoint name on every node, and the CNI. */
  | { kind: 'cni.apply'; cni: string }
  | { kind: 'kubeconfig.export'; cluster: string }
  /** Every node Ready and CoreDNS answering. */
  | { kind: 'cluster.wait'; cluster: string }
  | { kind: 'addon.apply'; addon: AddonSpec }
  | { kind: 'addon.remove'; addon: string };

export type StepKind = Step['kind'];

export interface PlannedStep<S extends Step = Step> {
  /** Stable id, e.g. "node.create:dev-worker-2". */
  id: string;
  step: S;
  action: Action;
  /** One human line, e.g. "create node dev-worker-2 (worker)". Never holds secrets. */
  description: string;
  /** Why the step is needed, e.g. "missing", "image changed: a -> b". */
  reason: string;
  /** False for kinds a later issue fills in; the runner reports them as not implemented, never as done. */
  implemented: boolean;
  /** Ids of steps that must finish first. */
  dependsOn: string[];
}

export interface Plan {
  cluster: string;
  /** Spec file the plan was made from, or undefined for `mk delete NAME`. */
  file?: string;
  steps: PlannedStep[];
  /** Changes refused or facts worth telling (e.g. "refusing to remove the last control plane"). */
  warnings: string[];
  /** Parts of the cluster that could not be observed this run (a warning says why); the plan leaves them alone. */
  unchecked?: string[];
}

/** True when applying the plan would change nothing and everything could be checked. */
export function inSync(plan: Plan): boolean {
  return plan.steps.length === 0 && !plan.unchecked?.length;
}
