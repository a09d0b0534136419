// The infrastructure phase: the cluster network, nodes and volumes, through the driver.
import type { Phase } from '../phase/types.js';
import { infraKinds, type InfraStep } from './steps.js';

export const infrastructure: Phase<InfraStep> = {
  name: 'infrastructure',
  observe: (ctx) => ctx.driver.observe(ctx.cluster, ctx.signal),
  kinds: infraKinds,
};

export { planInfrastructure, planInfrastructureDelete, type NodePlan } from './plan.js';
export type { InfraStep } from './steps.js';
export { nodeConfigHash, nodeImage } from './node-config.js';
