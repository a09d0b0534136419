// Real step implementations against a Driver. Each one checks before it acts (skip if done), so a step
// that was in flight when a run was interrupted can simply run again.
import { fromPromise } from 'xstate';
import { StepError } from '../errors.js';
import type { Driver } from '../drivers/types.js';
import type { BootstrapContext } from '../kubeadm/context.js';
import type { Reporter } from '../log.js';
import type { StepInput, StepOutcomeResult } from './machine.js';
import type { PlannedStep, Step } from './plan.js';

export interface StepContext {
  driver: Driver;
  cluster: string;
  reporter: Reporter;
  signal: AbortSignal;
  /** What the bootstrap steps need: the spec and run-wide state. Absent for mk delete. */
  bootstrap?: Omit<BootstrapContext, 'signal'>;
}

const done = (detail?: string): StepOutcomeResult => ({ outcome: 'done', ...(detail ? { detail } : {}) });
const skipped = (detail: string): StepOutcomeResult => ({ outcome: 'skipped', detail });

function bootstrapContext(ctx: StepContext, id: string): BootstrapContext {
  if (!ctx.bootstrap) throw new StepError(id, `step ${id} needs the cluster spec`);
  return { ...ctx.bootstrap, signal: ctx.signal };
}

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
      return (await import('../kubeadm/init.js')).kubeadmInit(bootstrapContext(ctx, id), step.node);
    case 'kubeadm.join':
      return (await import('../kubeadm/join.js')).kubeadmJoin(bootstrapContext(ctx, id), step.node, step.role);
    case 'kubeadm.reset':
      return (await import('../kubeadm/reset.js')).kubeadmReset(bootstrapContext(ctx, id), step.node, { drain: step.drain });
    case 'cni.apply':
      return (await import('../kubeadm/cni.js')).applyClusterNetwork(bootstrapContext(ctx, id));
    case 'kubeconfig.export':
      return (await import('../kubeadm/export.js')).exportKubeconfig(bootstrapContext(ctx, id));
    case 'cluster.wait':
      return (await import('../kubeadm/wait.js')).waitForCluster(bootstrapContext(ctx, id));
    case 'addon.apply':
      return (await import('../addons/steps.js')).applyAddonStep(bootstrapContext(ctx, id), step.addon);
    case 'addon.remove':
      return (await import('../addons/steps.js')).removeAddonStep(bootstrapContext(ctx, id), step.addon);
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
export function stepActors(driver: Driver, cluster: string, reporter: Reporter, bootstrap?: Omit<BootstrapContext, 'signal'>) {
  return {
    runStep: fromPromise<StepOutcomeResult, StepInput>(({ input, signal }) => runStep({ driver, cluster, reporter, signal, ...(bootstrap ? { bootstrap } : {}) }, input.step)),
  };
}
