// The plan as data: what `mk plan` prints and `mk apply` executes. Pure types, no secrets. Each
// phase defines its own step kinds (src/reconcile/phases.ts lists the phases); here a step is any
// object with a `kind`.

export type Action = 'create' | 'change' | 'replace' | 'remove' | 'start' | 'stop';

/** What every step of every phase has: its kind, e.g. "node.create". */
export interface StepBase {
  kind: string;
}

export interface PlannedStep<S extends StepBase = StepBase> {
  /** Stable id, e.g. "node.create:dev-worker-2". */
  id: string;
  step: S;
  action: Action;
  /** One human line, e.g. "create node dev-worker-2 (worker)". Never holds secrets. */
  description: string;
  /** Why the step is needed, e.g. "missing", "image changed: a -> b". */
  reason: string;
  /** Ids of steps that must finish first. */
  dependsOn: string[];
}

export interface Plan<S extends StepBase = StepBase> {
  cluster: string;
  /** Spec file the plan was made from, or undefined for `mk delete NAME`. */
  file?: string;
  steps: PlannedStep<S>[];
  /** Changes refused or facts worth telling (e.g. "refusing to remove the last control plane"). */
  warnings: string[];
  /** Parts of the cluster that could not be observed this run (a warning says why); the plan leaves them alone. */
  unchecked?: string[];
  /** What is wrong that no step repairs (a node not Ready for a reason mk cannot fix), each with what to look at. */
  problems?: string[];
  /** What the nodes this plan creates or replaces start from; absent when it brings no new node. */
  newNodes?: NewNodes;
}

export interface NewNodes {
  /** The node image (container nodes). */
  image?: string;
  /** The Kubernetes version kubeadm bootstraps on them (bootstrap: kubeadm). */
  kubernetesVersion?: string;
}

/** True when applying the plan would change nothing, everything could be checked, and nothing is wrong. */
export function inSync(plan: Plan): boolean {
  return plan.steps.length === 0 && !plan.unchecked?.length && !plan.problems?.length;
}

/** How many independent steps of a stage run at once unless --concurrency says otherwise. */
export const DEFAULT_CONCURRENCY = 4;

/** Stable step id: "<kind>:<subject>", e.g. "node.create:dev-worker-2". */
export function stepId(kind: string, subject: string): string {
  return `${kind}:${subject}`;
}

/**
 * How a step ended. 'waiting': a prerequisite is not met yet (a node not running, no control plane
 * answering); not a failure: the steps that need it wait too, the others go on, and a later apply
 * (or mk watch) picks it up.
 */
export type StepOutcome = 'done' | 'skipped' | 'waiting' | 'failed' | 'aborted';

/** What a step handler resolves with; failures are thrown. */
export interface StepResult {
  outcome: 'done' | 'skipped' | 'waiting';
  detail?: string;
}

export const done = (detail?: string): StepResult => ({ outcome: 'done', ...(detail ? { detail } : {}) });
export const skipped = (detail: string): StepResult => ({ outcome: 'skipped', detail });
export const waiting = (detail: string): StepResult => ({ outcome: 'waiting', detail });
