// The addons phase: catalog addons and user manifests, kept in sync through the API server.
// The addons engine loads only when a bootstrapped cluster is observed or an addon step runs.
import { adminCache, bootstrapContext } from '../kubeadm/context.js';
import type { Phase, StepKinds } from '../phase/types.js';
import type { AddonStep } from './plan.js';

const parallel = () => false;

const kinds: StepKinds<AddonStep> = {
  'addon.apply': {
    rank: 11,
    serial: parallel,
    run: async (ctx, step, id) => (await import('./steps.js')).applyAddonStep(bootstrapContext(ctx, id), step.addon),
  },
  'addon.remove': {
    rank: 12,
    serial: parallel,
    run: async (ctx, step, id) => (await import('./steps.js')).removeAddonStep(bootstrapContext(ctx, id), step.addon),
  },
};

export const addons: Phase<AddonStep> = {
  name: 'addons',
  /** Read through the API server once a control plane finished kubeadm; without a running control plane, not readable (and said so). */
  async observe(ctx, observed) {
    const spec = ctx.spec;
    if (ctx.purpose !== 'reconcile' || spec?.spec.bootstrap !== 'kubeadm') return observed;
    const cps = observed.nodes.filter((n) => n.role === 'control-plane');
    if (cps.some((n) => n.kubeadm === 'done')) {
      const { observeClusterAddons } = await import('./observe.js');
      return { ...observed, addons: await observeClusterAddons(ctx.driver, spec, observed, { admin: adminCache(ctx.shared), ...(ctx.signal ? { signal: ctx.signal } : {}) }) };
    }
    if (cps.some((n) => n.state !== 'running')) {
      const error = `no control plane of cluster ${spec.metadata.name} is running, so its addons cannot be read`;
      return { ...observed, addons: { installed: [], error } };
    }
    return observed;
  },
  kinds,
};

export { planAddonSteps, type AddonStep } from './plan.js';
