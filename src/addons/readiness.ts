// Readiness of addon objects: pure per-kind checks, and waitForAddon, which polls them.
import { ApiException, KubernetesObjectApi, type CoreV1Event, type KubeConfig } from '@kubernetes/client-node';
import { MkError } from '../errors.js';
import { describeRef, refOf } from './labels.js';
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

export interface Unready {
  ref: ObjectRef;
  reason: string;
  /** The latest Warning event about the object, if any. */
  event?: string;
}

export class AddonNotReadyError extends MkError {
  constructor(
    readonly addon: string,
    readonly unready: Unready[],
    readonly timeoutMs: number,
  ) {
    super(
      `addon ${addon} not ready after ${Math.round(timeoutMs / 1000)}s: ` +
        unready.map((u) => `${describeRef(u.ref)}: ${u.reason}${u.event ? `; last event: ${u.event}` : ''}`).join('; '),
    );
  }
}

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  signal?: AbortSignal;
}

async function latestWarning(kc: KubeConfig, ref: ObjectRef): Promise<string | undefined> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  try {
    const sel = `involvedObject.kind=${ref.kind},involvedObject.name=${ref.name}`;
    const list = await api.list<CoreV1Event>('v1', 'Event', ref.namespace ?? 'default', undefined, undefined, undefined, sel);
    const warnings = list.items.filter((e) => e.type === 'Warning');
    const time = (e: CoreV1Event) => new Date(e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? 0).getTime();
    const last = warnings.sort((a, b) => time(b) - time(a))[0];
    return last ? `${last.reason ?? ''}: ${last.message ?? ''}`.trim() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Polls every object of an addon whose kind has a readiness check until all are ready.
 * On timeout, throws AddonNotReadyError naming each unready object with its reason and latest Warning event.
 */
export async function waitForAddon(kc: KubeConfig, addon: string, refs: readonly ObjectRef[], opts: WaitOptions = {}): Promise<{ durationMs: number }> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const intervalMs = opts.intervalMs ?? 1000;
  const start = Date.now();
  const watched = refs.filter((r) => READINESS_KINDS.has(r.kind));
  for (;;) {
    opts.signal?.throwIfAborted();
    const pending: Unready[] = [];
    for (const ref of watched) {
      try {
        const o = await api.read<Observed & { apiVersion: string; kind: string; metadata: { name: string } }>({
          apiVersion: ref.apiVersion,
          kind: ref.kind,
          metadata: ref.namespace ? { name: ref.name, namespace: ref.namespace } : { name: ref.name },
        });
        const r = objectReadiness(o);
        if (!r.ready) pending.push({ ref: refOf(o), reason: r.reason ?? 'not ready' });
      } catch (err) {
        if (err instanceof ApiException && err.code === 404) pending.push({ ref, reason: 'not found' });
        else if (err instanceof ApiException && (err.code === 429 || err.code >= 500)) pending.push({ ref, reason: `API error ${err.code}` });
        else throw err;
      }
    }
    if (pending.length === 0) return { durationMs: Date.now() - start };
    if (Date.now() - start >= timeoutMs) {
      for (const u of pending) {
        const ev = await latestWarning(kc, u.ref);
        if (ev) u.event = ev;
      }
      throw new AddonNotReadyError(addon, pending, timeoutMs);
    }
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, Math.max(0, timeoutMs - (Date.now() - start)))));
  }
}
