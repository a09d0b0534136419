// Deterministic topological order of planned steps. Pure.
import { PlanError } from '../errors.js';
import type { PlannedStep, StepBase } from '../plan.js';

const collator = new Intl.Collator('en', { numeric: true });

/** Rank of a step's kind (reading order among ready steps), then id with numbers compared as numbers (dev-worker-2 before dev-worker-10). */
export function compareSteps<S extends StepBase>(a: PlannedStep<S>, b: PlannedStep<S>, rank: (step: S) => number): number {
  return rank(a.step) - rank(b.step) || collator.compare(a.id, b.id);
}

/** Checks that ids are unique and every dependency exists; returns the steps by id. */
export function indexSteps<S extends StepBase>(steps: readonly PlannedStep<S>[]): Map<string, PlannedStep<S>> {
  const byId = new Map<string, PlannedStep<S>>();
  for (const s of steps) {
    if (byId.has(s.id)) throw new PlanError(`duplicate step id ${s.id}`);
    byId.set(s.id, s);
  }
  for (const s of steps) {
    for (const d of s.dependsOn) if (!byId.has(d)) throw new PlanError(`step ${s.id} depends on unknown step ${d}`);
  }
  return byId;
}

/** Small binary min-heap, so ordering thousands of steps stays O(n log n). */
class Heap<T> {
  private readonly items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => boolean) {}
  get size(): number {
    return this.items.length;
  }
  push(item: T): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** Topological order; among ready steps the smallest by compareSteps comes first. Throws PlanError on a cycle. */
export function orderSteps<S extends StepBase>(steps: readonly PlannedStep<S>[], rank: (step: S) => number): PlannedStep<S>[] {
  const byId = indexSteps(steps);
  const waiting = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  const ready = new Heap<PlannedStep<S>>((a, b) => compareSteps(a, b, rank) < 0);
  for (const s of steps) {
    const deps = new Set(s.dependsOn);
    waiting.set(s.id, deps.size);
    for (const d of deps) {
      const list = dependents.get(d);
      if (list) list.push(s.id);
      else dependents.set(d, [s.id]);
    }
    if (deps.size === 0) ready.push(s);
  }
  const out: PlannedStep<S>[] = [];
  while (ready.size > 0) {
    const s = ready.pop()!;
    out.push(s);
    for (const id of dependents.get(s.id) ?? []) {
      const left = waiting.get(id)! - 1;
      waiting.set(id, left);
      if (left === 0) ready.push(byId.get(id)!);
    }
  }
  if (out.length !== steps.length) {
    const stuck = steps.filter((s) => !out.includes(s)).map((s) => s.id);
    throw new PlanError(`plan has a dependency cycle among: ${stuck.join(', ')}`);
  }
  return out;
}
