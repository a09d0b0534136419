// The infrastructure phase: the cluster network, nodes and volumes, through the driver.
import type { ObserveContext, Phase } from '../phase/types.js';
import type { ObservedCluster } from '../drivers/types.js';
import { classifyNodes, nodesUp } from './plan.js';
import { LB_CONFIG, parseLbBackends } from '../drivers/load-balancer.js';
import { countUp } from './preflight.js';
import { infraKinds, type InfraStep } from './steps.js';

/**
 * The driver's view of the cluster; and when the plan will bring nodes up (create, start, replace),
 * the facts of the machine they share, for the preflight. A plan that brings none up reads nothing more.
 */
async function observe(ctx: ObserveContext): Promise<ObservedCluster> {
  const observed = await readBackends(ctx, await ctx.driver.observe(ctx.cluster, ctx.signal));
  if (ctx.purpose !== 'reconcile' || !ctx.spec || !ctx.driver.hostFacts) return observed;
  if (countUp(nodesUp(classifyNodes(ctx.spec, observed))) === 0) return observed;
  return { ...observed, host: await ctx.driver.hostFacts(ctx.signal) };
}

/** The backends a running load balancer's configuration lists (one exec). */
async function readBackends(ctx: ObserveContext, observed: ObservedCluster): Promise<ObservedCluster> {
  const lb = observed.loadBalancer;
  if (ctx.purpose !== 'reconcile' || lb?.state !== 'running' || !ctx.driver.loadBalancer) return observed;
  const r = await ctx.driver.loadBalancer(ctx.cluster).exec(['cat', LB_CONFIG], ctx.signal ? { signal: ctx.signal } : {});
  return r.exitCode === 0 ? { ...observed, loadBalancer: { ...lb, backends: parseLbBackends(r.stdout) } } : observed;
}

export const infrastructure: Phase<InfraStep> = { name: 'infrastructure', observe, kinds: infraKinds };

export { planInfrastructure, planInfrastructureDelete, planInfrastructureStop, type NodePlan } from './plan.js';
export type { InfraStep } from './steps.js';
export { nodeConfigHash, nodeImage } from './node-config.js';
export { controlPlaneCount, wantsLoadBalancer, type EndpointPlan } from './load-balancer.js';
