// Runs one planned step with its phase's handler, as the machine's "runStep" actor. A step whose
// prerequisite is not met (WaitingError, thrown anywhere below it) ends waiting, not failed.
import { setMaxListeners } from 'node:events';
import { fromPromise } from 'xstate';
import { WaitingError } from '../errors.js';
import type { StepContext } from '../phase/types.js';
import { waiting, type StepResult } from '../plan.js';
import type { StepInput } from './machine.js';
import { kindOf, type ClusterStep } from './phases.js';

export async function runStep(ctx: StepContext, planned: ClusterStep): Promise<StepResult> {
  ctx.reporter.debug('step', { step: planned.id, cluster: ctx.cluster });
  try {
    return await kindOf(planned.step).run(ctx, planned.step, planned.id);
  } catch (err) {
    if (err instanceof WaitingError && !ctx.signal.aborted) return waiting(err.message);
    throw err;
  }
}

/** The actors the runner provides to the machine. */
export function stepActors(ctx: Omit<StepContext, 'signal'>) {
  return {
    runStep: fromPromise<StepResult, StepInput>(({ input, signal }) => {
      // A step may have many requests under way on it (an image load asks the engine about each image at once).
      setMaxListeners(0, signal);
      return runStep({ ...ctx, signal }, input.step as ClusterStep);
    }),
  };
}
