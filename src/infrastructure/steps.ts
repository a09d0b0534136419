// The infrastructure phase's steps: the cluster network, nodes and volumes, through the driver.
// Each checks before it acts (skip if done), so a step in flight when a run was interrupted can run again.
import { StepError } from '../errors.js';
import type { StepContext, StepKinds } from '../phase/types.js';
import { done, skipped, waiting } from '../plan.js';
import type { ObservedNode } from '../drivers/types.js';
import type { DesiredNode, Role } from '../spec/types.js';
import { DriverError } from '../errors.js';
import type { Driver } from '../drivers/types.js';
import { renderLbConfig } from '../drivers/load-balancer.js';
import { configureLoadBalancer, type LbStep } from './load-balancer.js';

export type InfraStep =
  | { kind: 'network.create'; cluster: string; name?: string; subnet?: string }
  | { kind: 'network.remove'; cluster: string }
  | { kind: 'node.create'; node: DesiredNode; image: string; configHash: string; apiServerPort?: number }
  | { kind: 'node.start'; node: string; role: Role }
  | { kind: 'node.stop'; node: string; role: Role }
  | { kind: 'node.remove'; node: string; role: Role }
  | { kind: 'volume.remove'; volume: string }
  | LbStep;

/** A node mk stop stops: one that runs, restarts or is paused. */
export const isUp = (n: Pick<ObservedNode, 'state'>): boolean => n.state === 'running' || n.state === 'restarting' || n.state === 'paused';

async function findNode(ctx: StepContext, name: string) {
  return (await ctx.driver.observe(ctx.cluster, ctx.signal)).nodes.find((n) => n.name === name);
}

const parallel = () => false;

/** The driver's load balancer methods, or an error: a plan only has lb steps on drivers that have them. */
function lbDriver(driver: Driver): Required<Pick<Driver, 'createLoadBalancer' | 'stopLoadBalancer' | 'removeLoadBalancer'>> {
  const { createLoadBalancer, stopLoadBalancer, removeLoadBalancer } = driver;
  if (!createLoadBalancer || !stopLoadBalancer || !removeLoadBalancer) throw new DriverError("this cluster's driver runs no load balancer");
  return { createLoadBalancer: createLoadBalancer.bind(driver), stopLoadBalancer: stopLoadBalancer.bind(driver), removeLoadBalancer: removeLoadBalancer.bind(driver) };
}
const controlPlane = (step: { role: Role }) => step.role === 'control-plane';

export const infraKinds: StepKinds<InfraStep> = {
  'network.create': {
    rank: 0,
    serial: parallel,
    async run({ driver, cluster, signal }, step) {
      const observed = await driver.observe(cluster, signal);
      if (observed.network) return skipped(`network ${observed.network.name} exists`);
      const net = await driver.ensureNetwork({ cluster, ...(step.name ? { name: step.name } : {}), ...(step.subnet ? { subnet: step.subnet } : {}) }, signal);
      return done(net.subnet ? `${net.name} ${net.subnet}` : net.name);
    },
  },
  'volume.remove': {
    rank: 1,
    serial: parallel,
    async run({ driver, cluster, signal }, step) {
      const observed = await driver.observe(cluster, signal);
      if (!observed.orphanVolumes.includes(step.volume)) return skipped('already gone or in use');
      await driver.removeVolume(cluster, step.volume, signal);
      return done();
    },
  },
  'node.remove': {
    rank: 3,
    serial: controlPlane,
    async run(ctx, step) {
      if (!(await findNode(ctx, step.node))) return skipped('already gone');
      await ctx.driver.removeNode(ctx.cluster, step.node, ctx.signal);
      return done();
    },
  },
  'node.create': {
    rank: 4,
    serial: (step) => step.node.role === 'control-plane',
    async run(ctx, step, id) {
      const existing = await findNode(ctx, step.node.name);
      if (existing) {
        if (existing.configHash !== step.configHash) {
          throw new StepError(id, `node ${step.node.name} exists with other settings (config hash ${existing.configHash}, want ${step.configHash}); run mk plan again`);
        }
        if (existing.state === 'running') return skipped('exists');
      }
      const { node, image, configHash, apiServerPort } = step;
      const created = await ctx.driver.createNode({ node, image, configHash, ...(apiServerPort !== undefined ? { apiServerPort } : {}) }, ctx.signal);
      return done(created.address);
    },
  },
  'node.start': {
    rank: 5,
    serial: controlPlane,
    async run(ctx, step) {
      const existing = await findNode(ctx, step.node);
      if (!existing) return waiting(`node ${step.node} to start does not exist; the next apply creates it`);
      if (existing.state === 'running') return skipped('running');
      await ctx.driver.startNode(ctx.cluster, step.node, ctx.signal);
      return done();
    },
  },
  'node.stop': {
    rank: 3,
    serial: parallel,
    async run(ctx, step) {
      const existing = await findNode(ctx, step.node);
      if (!existing) return skipped('gone');
      if (!isUp(existing)) return skipped(existing.state);
      await ctx.driver.stopNode(ctx.cluster, step.node, ctx.signal);
      return done();
    },
  },
  'lb.create': {
    rank: 4.2,
    serial: parallel,
    async run({ driver, cluster, signal }, step) {
      const lb = (await driver.observe(cluster, signal)).loadBalancer;
      if (lb?.state === 'running') return skipped('runs');
      // Backends come with lb.configure, once the control planes exist.
      const created = await lbDriver(driver).createLoadBalancer({ cluster, image: step.image, apiServerPort: step.apiServerPort, config: renderLbConfig([]) }, signal);
      return done(`${created.address ?? 'no address'}, API on 127.0.0.1:${created.apiServerPort ?? '?'}`);
    },
  },
  'lb.configure': {
    rank: 4.6,
    serial: parallel,
    async run({ driver, signal, run }, _step, id) {
      if (!run) throw new StepError(id, `step ${id} needs the cluster spec`);
      const changed = await configureLoadBalancer(driver, run.cluster, signal);
      return changed === undefined ? skipped('backends as they should be') : done(changed);
    },
  },
  'lb.stop': {
    rank: 3.5,
    serial: parallel,
    async run({ driver, cluster, signal }) {
      const lb = (await driver.observe(cluster, signal)).loadBalancer;
      if (!lb || lb.state !== 'running') return skipped(lb ? lb.state : 'gone');
      await lbDriver(driver).stopLoadBalancer(cluster, signal);
      return done();
    },
  },
  'lb.remove': {
    rank: 12.5,
    serial: parallel,
    async run({ driver, cluster, signal }) {
      if (!(await driver.observe(cluster, signal)).loadBalancer) return skipped('already gone');
      await lbDriver(driver).removeLoadBalancer(cluster, signal);
      return done();
    },
  },
  'network.remove': {
    rank: 13,
    serial: parallel,
    async run({ driver, cluster, signal }) {
      const observed = await driver.observe(cluster, signal);
      if (!observed.network) return skipped('already gone');
      await driver.removeNetwork(cluster, signal);
      return done();
    },
  },
};
