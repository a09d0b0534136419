// Readiness of addon objects: pure per-kind checks, and waitForAddon, which polls them.
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeApiError, podReady, podReason, type KubeClient, type KubeEvent, type KubeObject, type Pod } from '../kube/index.js';
import { AddonNotReadyError, type Unready } from './errors.js';
import { refOf } from './labels.js';
import type { ObjectRef } from './types.js';

export interface Readiness {
  ready: boolean;
  /** Why not, from status and conditions (absent when ready). */
  reason?: string;
}

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}
interface Observed {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; generation?: number };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown> & { conditions?: Condition[] };
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : 0;
}
function condition(o: Observed, type: string): Condition | undefined {
  return o.status?.conditions?.find((c) => c.type === type);
}
function why(c: Condition | undefined): string {
  if (!c) return '';
  return [c.reason, c.message].filter(Boolean).join(': ');
}
function notReady(reason: string): Readiness {
  return { ready: false, reason };
}
/** The controller has not caught up with the latest spec yet. */
function stale(o: Observed): Readiness | undefined {
  const gen = o.metadata?.generation ?? 0;
  const observed = o.status?.observedGeneration;
  if (typeof observed !== 'number' || observed < gen) return notReady(`waiting for the controller to observe generation ${gen}`);
  return undefined;
}

/** Whether one object, as read from the cluster, is ready. Kinds without a notion of readiness are ready. Pure. */
export function objectReadiness(o: Observed): Readiness {
  switch (o.kind) {
    case 'Deployment': {
      const s = stale(o);
      if (s) return s;
      const want = typeof o.spec?.replicas === 'number' ? o.spec.replicas : 1;
      const available = num(o.status?.availableReplicas);
      const updated = num(o.status?.updatedReplicas);
      if (available >= want && updated >= want) return { ready: true };
      const c = condition(o, 'Progressing')?.status === 'False' ? condition(o, 'Progressing') : condition(o, 'Available');
      return notReady(`${available}/${want} replicas available${why(c) ? ` (${why(c)})` : ''}`);
    }
    case 'DaemonSet': {
      const s = stale(o);
      if (s) return s;
      const want = num(o.status?.desiredNumberScheduled);
      const ready = num(o.status?.numberReady);
      const updated = num(o.status?.updatedNumberScheduled);
      if (ready >= want && updated >= want) return { ready: true };
      return notReady(`${ready}/${want} pods ready`);
    }
    case 'StatefulSet': {
      const s = stale(o);
      if (s) return s;
      const want = typeof o.spec?.replicas === 'number' ? o.spec.replicas : 1;
      const ready = num(o.status?.readyReplicas);
      if (ready >= want) return { ready: true };
      return notReady(`${ready}/${want} replicas ready`);
    }
    case 'CustomResourceDefinition': {
      const c = condition(o, 'Established');
      if (c?.status === 'True') return { ready: true };
      const names = condition(o, 'NamesAccepted');
      return notReady(`not Established${why(names?.status === 'False' ? names : c) ? ` (${why(names?.status === 'False' ? names : c)})` : ''}`);
    }
    case 'APIService': {
      const c = condition(o, 'Available');
      if (c?.status === 'True') return { ready: true };
      return notReady(`not Available${why(c) ? ` (${why(c)})` : ''}`);
    }
    case 'Job': {
      const failed = condition(o, 'Failed');
      if (failed?.status === 'True') return notReady(`failed (${why(failed)})`);
      if (condition(o, 'Complete')?.status === 'True') return { ready: true };
      return notReady(`not complete (${num(o.status?.succeeded)} succeeded, ${num(o.status?.active)} active)`);
    }
    default:
      return { ready: true };
  }
}

/** The kinds objectReadiness() knows; others are not polled. */
export const READINESS_KINDS = new Set(['Deployment', 'DaemonSet', 'StatefulSet', 'CustomResourceDefinition', 'APIService', 'Job']);

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  signal?: AbortSignal;
}

async function latestWarning(client: KubeClient, ref: ObjectRef): Promise<string | undefined> {
  try {
    const fieldSelector = `involvedObject.kind=${ref.kind},involvedObject.name=${ref.name}`;
    const events = await client.list<KubeEvent>('v1', 'Event', { namespace: ref.namespace ?? 'default', fieldSelector });
    const time = (e: KubeEvent) => new Date(e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? 0).getTime();
    const last = events.filter((e) => e.type === 'Warning').sort((a, b) => time(b) - time(a))[0];
    return last ? `${last.reason ?? ''}: ${last.message ?? ''}`.trim() : undefined;
  } catch {
    return undefined;
  }
}

/** The workload kinds whose pods are found by spec.selector.matchLabels. */
const POD_OWNERS = new Set(['Deployment', 'DaemonSet', 'StatefulSet', 'Job']);

/** "pod NAME: Phase (Reason: message)" of the workload's first pod that is not ready; undefined when none can be named. */
async function unreadyPod(client: KubeClient, o: Observed): Promise<string | undefined> {
  const labels = (o.spec?.selector as { matchLabels?: Record<string, string> } | undefined)?.matchLabels;
  if (!o.kind || !POD_OWNERS.has(o.kind) || !labels || Object.keys(labels).length === 0) return undefined;
  try {
    const labelSelector = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
    const pods = await client.list<Pod & KubeObject>('v1', 'Pod', { namespace: o.metadata?.namespace ?? 'default', labelSelector });
    const p = pods.find((x) => !podReady(x));
    return p ? `pod ${p.metadata.name}: ${p.status?.phase ?? 'Unknown'}${podReason(p)}` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Polls every object of an addon whose kind has a readiness check until all are ready.
 * On timeout, throws AddonNotReadyError naming each unready object with its reason, the reason its
 * first unready pod gives (ErrImagePull, CrashLoopBackOff, Unschedulable...) and its latest Warning event.
 */
export async function waitForAddon(client: KubeClient, addon: string, refs: readonly ObjectRef[], opts: WaitOptions = {}): Promise<{ durationMs: number }> {
  // One attempt per object and round: a busy API server (429, 5xx) makes the object pending, not the wait fail.
  const api = client.with({ retries: 0, signal: opts.signal });
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const intervalMs = opts.intervalMs ?? 1000;
  const start = Date.now();
  const watched = refs.filter((r) => READINESS_KINDS.has(r.kind));
  for (;;) {
    opts.signal?.throwIfAborted();
    const pending: (Unready & { observed?: Observed })[] = [];
    for (const ref of watched) {
      try {
        const o = await api.read<Observed>(ref);
        if (!o) {
          pending.push({ ref, reason: 'not found' });
          continue;
        }
        const r = objectReadiness(o);
        if (!r.ready) pending.push({ ref: refOf(o), reason: r.reason ?? 'not ready', observed: o });
      } catch (err) {
        if (err instanceof KubeApiError && (err.status === 429 || err.status >= 500)) pending.push({ ref, reason: `API error ${err.status}` });
        else throw err;
      }
    }
    if (pending.length === 0) return { durationMs: Date.now() - start };
    if (Date.now() - start >= timeoutMs) {
      const unready = await Promise.all(
        pending.map(async ({ observed, ...u }): Promise<Unready> => {
          const [pod, event] = await Promise.all([observed ? unreadyPod(api, observed) : undefined, latestWarning(api, u.ref)]);
          return { ...u, ...(pod ? { pod } : {}), ...(event ? { event } : {}) };
        }),
      );
      throw new AddonNotReadyError(addon, unready, timeoutMs);
    }
    await sleep(Math.min(intervalMs, Math.max(0, timeoutMs - (Date.now() - start))), undefined, { signal: opts.signal });
  }
}
