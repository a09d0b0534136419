// Real step implementations against a Driver. Each one checks before it acts (skip if done), so a step
// that was in flight when a run was interrupted can simply run again.
import { fromPromise } from 'xstate';
import { StepError } from '../errors.js';
import type { Driver } from '../drivers/types.js';
import type { Reporter } from '../log.js';
import type { StepInput, StepOutcomeResult } from './machine.js';
import type { PlannedStep, Step, StepKind } from './plan.js';

export interface StepContext {
  driver: Driver;
  cluster: string;
  reporter: Reporter;
  signal: AbortSignal;
}

const done = (detail?: string): StepOutcomeResult => ({ outcome: 'done', ...(detail ? { detail } : {}) });
const skipped = (detail: string): StepOutcomeResult => ({ outcome: 'skipped', detail });

/** Which later issue fills in each kind that has no implementation yet. */
const LATER: Partial<Record<StepKind, string>> = {
  'kubeadm.init': 'kubeadm bootstrap',
  'kubeadm.join': 'kubeadm bootstrap',
  'kubeadm.reset': 'kubeadm bootstrap',
  'cni.apply': 'kubeadm bootstrap',
  'kubeconfig.export': 'kubeadm bootstrap',
  'addon.apply': 'addons',
  'addon.remove': 'addons',
};

async function findNode(ctx: StepContext, name: string) {
  const observed = await ctx.driver.observe(ctx.cluster, ctx.signal);
  return observed.nodes.find((n) => n.name === name);
}

async function execute(ctx: StepContext, step: Step, id: string): Promise<StepOutcomeResult> {
  const { driver, cluster, signal } = ctx;
  switch (step.kind) {
    case 'network.create': {
      const observed = await driver.observe(cluster, signal);
      if (observed.network) return skipped(`network ${observed.network.name} exists`);
      const net = await driver.ensureNetwork({ cluster, ...(step.name ? { name: step.name } : {}), ...(step.subnet ? { subnet: step.subnet } : {}) }, signal);
      return done(net.subnet ? `${net.name} ${net.subnet}` : net.name);
    }
    case 'network.remove': {
      const observed = await driver.observe(cluster, signal);
      if (!observed.network) return skipped('already gone');
      await driver.removeNetwork(cluster, signal);
      return done();
    }
    case 'node.create': {
      const existing = await findNode(ctx, step.node.name);
      if (existing) {
        if (existing.configHash !== step.configHash) {
          throw new StepError(id, `node ${step.node.name} exists with other settings (config hash ${existing.configHash}, want ${step.configHash}); run mk plan again`);
        }
        if (existing.state === 'running') return skipped('exists');
      }
      const node = await driver.createNode(
        { node: step.node, image: step.image, configHash: step.configHash, ...(step.apiServerPort !== undefined ? { apiServerPort: step.apiServerPort } : {}) },
        signal,
      );
      return done(node.address);
    }
    case 'node.start': {
      const existing = await findNode(ctx, step.node);
      if (!existing) throw new StepError(id, `node ${step.node} to start does not exist; run mk apply again to create it`);
      if (existing.state === 'running') return skipped('running');
      await driver.startNode(cluster, step.node, signal);
      return done();
    }
    case 'node.remove': {
      const existing = await findNode(ctx, step.node);
      if (!existing) return skipped('already gone');
      await driver.removeNode(cluster, step.node, signal);
      return done();
    }
    case 'volume.remove': {
      const observed = await driver.observe(cluster, signal);
      if (!observed.orphanVolumes.includes(step.volume)) return skipped('already gone or in use');
      await driver.removeVolume(cluster, step.volume, signal);
      return done();
    }
    case 'kubeadm.init':
    case 'kubeadm.join':
    case 'kubeadm.reset':
    case 'cni.apply':
    case 'kubeconfig.export':
    case 'addon.apply':
    case 'addon.remove':
      return { outcome: 'not-implemented', detail: `not implemented yet (${LATER[step.kind]})` };
  }
}

/** Runs one planned step; never reports a step without an implementation as done. */
export async function runStep(ctx: StepContext, planned: PlannedStep): Promise<StepOutcomeResult> {
  ctx.reporter.debug('step', { step: planned.id, cluster: ctx.cluster });
  const result = await execute(ctx, planned.step, planned.id);
  if (!planned.implemented && result.outcome === 'done') return { outcome: 'not-implemented', detail: 'planned as not implemented' };
  return result;
}

/** The actors the runner provides to the machine. */
export function stepActors(driver: Driver, cluster: string, reporter: Reporter) {
  return {
    runStep: fromPromise<StepOutcomeResult, StepInput>(({ input, signal }) => runStep({ driver, cluster, reporter, signal }, input.step)),
  };
}
