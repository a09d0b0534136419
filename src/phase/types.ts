// The shape every phase has (src/reconcile/phases.ts lists them): it reads its part of the actual
// state (observe), turns desired + observed into steps with reasons (plan, pure), and runs its own
// step kinds, each with its scheduling facts. A new step kind touches one phase's folder.
import type { Driver, ObservedCluster } from '../drivers/types.js';
import type { Reporter } from '../log.js';
import type { PlannedStep, StepBase, StepResult } from '../plan.js';
import type { Cluster } from '../spec/types.js';

/** The spec a run applies and what its steps share. */
export interface RunSpec {
  cluster: Cluster;
  /** Folder of the spec file (manifest paths are relative to it). */
  specDir?: string;
  /** When the run started: "cluster usable" is measured from here. */
  startedAt: number;
  /** Make mk's kubeconfig context the current one when it is exported. */
  switchContext: boolean;
  /** Values the steps of one run share (e.g. admin access per control plane); each phase names its own keys. */
  shared: Map<string, unknown>;
}

/** What a step of any phase runs with. */
export interface StepContext {
  driver: Driver;
  /** The cluster's name. */
  cluster: string;
  reporter: Reporter;
  signal: AbortSignal;
  /** Absent when a cluster is deleted by name without a spec. */
  run?: RunSpec;
}

/** One step kind: how to run it, and how it is scheduled. */
export interface StepKind<S extends StepBase> {
  /**
   * Reading order among steps that are ready at the same time, smaller first. One scale for every
   * phase (see the table in src/reconcile/phases.ts), so plans read in the same order every time.
   */
  rank: number;
  /** Steps that must run one at a time (a control plane's etcd membership, cluster-wide steps). */
  serial(step: S): boolean;
  /** Checks before it acts (skip if done, wait if a prerequisite is missing), so it can run again after an interruption. */
  run(ctx: StepContext, step: S, id: string): Promise<StepResult>;
}

/** Every kind of a phase's step union, each with its handler. */
export type StepKinds<S extends StepBase> = { [K in S['kind']]: StepKind<Extract<S, { kind: K }>> };

export interface ObserveContext {
  driver: Driver;
  /** The cluster's name. */
  cluster: string;
  /** The spec, when there is one (mk delete NAME has none). */
  spec?: Cluster;
  /** 'delete' and 'stop': the whole cluster goes (or stops), so only what the driver sees of its nodes is read. */
  purpose: 'reconcile' | 'delete' | 'stop';
  signal?: AbortSignal;
  /** Values the phases of one observation share (e.g. admin access to the API server); each phase names its own keys. */
  shared: Map<string, unknown>;
}

export interface Phase<S extends StepBase> {
  name: string;
  /** Adds this phase's part of the actual state to what the phases before it observed. Read-only. */
  observe(ctx: ObserveContext, observed: ObservedCluster): Promise<ObservedCluster>;
  kinds: StepKinds<S>;
}

export type { PlannedStep };
