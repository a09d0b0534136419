// The Kubernetes phase: kubeadm on the nodes, the cluster network, the kubeconfig, readiness.
// Step modules load when a step runs, so planning a cluster that is in sync stays cheap.
import type { Phase, StepKinds } from '../phase/types.js';
import { bootstrapContext } from './context.js';
import { observeBootstrap } from './observe.js';
import type { KubeStep } from './plan.js';

const always = () => true;
const controlPlane = (step: { role: string }) => step.role === 'control-plane';

const kinds: StepKinds<KubeStep> = {
  'kubeadm.reset': {
    rank: 2,
    serial: controlPlane,
    run: async (ctx, step, id) => (await import('./reset.js')).kubeadmReset(bootstrapContext(ctx, id), step.node, { drain: step.drain }),
  },
  'etcd.forget': {
    rank: 1.5,
    serial: always,
    run: async (ctx, step, id) => (await import('./etcd.js')).forgetMember(bootstrapContext(ctx, id), step.node, step.member),
  },
  'kubeadm.init': {
    rank: 6,
    serial: always,
    run: async (ctx, step, id) => (await import('./init.js')).kubeadmInit(bootstrapContext(ctx, id), step.node),
  },
  'cni.apply': {
    rank: 7,
    serial: always,
    run: async (ctx, _step, id) => (await import('./cni.js')).applyClusterNetwork(bootstrapContext(ctx, id)),
  },
  'kubeadm.join': {
    rank: 8,
    serial: controlPlane,
    run: async (ctx, step, id) => (await import('./join.js')).kubeadmJoin(bootstrapContext(ctx, id), step.node, step.role),
  },
  'kubelet.restart': {
    rank: 8.5,
    serial: controlPlane,
    run: async (ctx, step, id) => (await import('./repair.js')).restartKubelet(bootstrapContext(ctx, id), step.node),
  },
  'kubeconfig.export': {
    rank: 9,
    serial: always,
    run: async (ctx, _step, id) => (await import('./export.js')).exportKubeconfig(bootstrapContext(ctx, id)),
  },
  'cluster.wait': {
    rank: 10,
    serial: always,
    run: async (ctx, _step, id) => (await import('./wait.js')).waitForCluster(bootstrapContext(ctx, id)),
  },
};

export const kubernetes: Phase<KubeStep> = {
  name: 'kubernetes',
  observe: async (ctx, observed) =>
    ctx.purpose === 'reconcile' && ctx.spec ? observeBootstrap(ctx.driver, ctx.spec, observed, { shared: ctx.shared, ...(ctx.signal ? { signal: ctx.signal } : {}) }) : observed,
  kinds,
};

export { planKubernetes, planKubernetesDelete, type KubePlan, type KubeStep } from './plan.js';
