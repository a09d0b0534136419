// Collects the steps of a plan while the phases plan, in order, one after another. Pure.
import { PlanError } from '../errors.js';
import { stepId, type Action, type PlannedStep, type StepBase } from '../plan.js';

/** What a phase's planner sees of the plan being built: it adds its own kinds of steps. */
export interface StepSink<S extends StepBase> {
  add(step: S, subject: string, action: Action, description: string, reason: string, dependsOn?: readonly (string | undefined)[]): string;
  after(id: string, deps: readonly (string | undefined)[]): void;
  ids(): string[];
  readonly warnings: string[];
  readonly unchecked: string[];
  readonly problems: string[];
}

export class PlanBuilder<S extends StepBase = StepBase> implements StepSink<S> {
  private readonly steps: PlannedStep<S>[] = [];
  private readonly byId = new Map<string, PlannedStep<S>>();
  /** Changes refused or facts worth telling. */
  readonly warnings: string[] = [];
  /** Parts of the cluster that could not be observed (a warning says why). */
  readonly unchecked: string[] = [];
  /** What is wrong that no step repairs. */
  readonly problems: string[] = [];

  /** Adds a step whose id is "<kind>:<subject>" and returns the id, so later steps can depend on it. */
  add(step: S, subject: string, action: Action, description: string, reason: string, dependsOn: readonly (string | undefined)[] = []): string {
    const id = stepId(step.kind, subject);
    if (this.byId.has(id)) throw new PlanError(`duplicate step id ${id}`);
    const planned: PlannedStep<S> = { id, step, action, description, reason, dependsOn: unique(dependsOn) };
    this.steps.push(planned);
    this.byId.set(id, planned);
    return id;
  }

  /** Makes step `id` (of this or an earlier phase) also wait for `deps`. */
  after(id: string, deps: readonly (string | undefined)[]): void {
    const s = this.byId.get(id);
    if (!s) throw new PlanError(`no step ${id} to order after ${deps.join(', ')}`);
    s.dependsOn = unique([...s.dependsOn, ...deps]);
  }

  /** Ids of every step so far. */
  ids(): string[] {
    return this.steps.map((s) => s.id);
  }

  get list(): readonly PlannedStep<S>[] {
    return this.steps;
  }
}

function unique(ids: readonly (string | undefined)[]): string[] {
  return [...new Set(ids.filter((d): d is string => d !== undefined))];
}
