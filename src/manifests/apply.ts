// Server-side apply of an addon's objects with an inventory, and pruning of what an earlier apply
// created and this one no longer renders.
//
// applyAddon: label every object (mk.dev/cluster, mk.dev/addon, managed-by), then per phase
// (Namespaces + CRDs; wait for CRDs Established; everything else): refuse objects that exist without
// mk's labels for this addon (unless force), record the intent in the inventory, server-side apply
// as field manager "mk" (without force unless the addon says force: a conflict with another field
// manager is reported), then prune what an earlier apply created and this one no longer renders.
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeApiError, type CustomResourceDefinition, type KubeClient, type KubeObject } from '../kube/index.js';
import { firstDifference, isSubset } from './compare.js';
import { AddonConflictError, AddonError } from './errors.js';
import { contentHash, subtractRefs, unionRefs } from './inventory.js';
import { readInventory, writeInventory } from './inventory-store.js';
import { LABEL_ADDON, LABEL_CLUSTER, clusterName, describeRef, ownedBy, refKey, refOf, withAddonLabels, type ClusterRefLike } from './labels.js';
import { applyPhases, isCrd, isNamespace } from './order.js';
import { objectReadiness, waitForAddon, type WaitOptions } from './readiness.js';
import { deleteOwned } from './remove.js';
import type { K8sObject, ObjectRef } from './types.js';

export interface ApplyOptions {
  /** Catalog version recorded in the inventory ("user" for manifests). */
  version?: string;
  /** Hash of the addon spec (see addonSpecHash) recorded in the inventory for diffAddons. */
  specHash?: string;
  /** Take over fields and objects owned by others. Default: addon.force. */
  force?: boolean;
  /** Wait for readiness after applying; false (default) returns once applied. */
  wait?: WaitOptions | false;
  /** Time allowed for CRDs to become Established and discoverable. Default 60 s. */
  crdTimeoutMs?: number;
  /** Time allowed for a kind no CRD of this addon defines to be served. Default 5 s. */
  unknownKindTimeoutMs?: number;
  /** Skip the request for objects the cluster already has as rendered (default true). false sends every object. */
  skipUnchanged?: boolean;
  /** Retries on transient API errors (429, 5xx, connection). Default 6 (about 12 s). */
  retries?: number;
  /** Time allowed for each request without an answer. Default 60 s. */
  requestTimeoutMs?: number;
  signal?: AbortSignal;
  log?: (message: string) => void;
}

export interface ApplyResult {
  addon: string;
  /** Every object applied, in apply order (namespaces resolved). */
  objects: ObjectRef[];
  /** Objects an earlier apply created that this one pruned. */
  pruned: ObjectRef[];
  /** Existing Namespaces mk did not create: used, not owned (not in the inventory, never deleted). */
  adoptedNamespaces: ObjectRef[];
  contentHash: string;
  durationMs: number;
}

/**
 * Applies an addon's objects (server-side apply, field manager "mk") and records them in its
 * inventory; prunes objects an earlier apply of the same addon created that are no longer rendered.
 * Re-applying identical objects changes nothing (no resourceVersion moves).
 */
export async function applyAddon(
  client: KubeClient,
  cluster: ClusterRefLike,
  addon: { name: string; force?: boolean },
  objects: readonly K8sObject[],
  opts: ApplyOptions = {},
): Promise<ApplyResult> {
  const start = Date.now();
  const name = clusterName(cluster);
  const force = opts.force ?? addon.force ?? false;
  const api = client.with({ retries: opts.retries ?? 6, signal: opts.signal, timeoutMs: opts.requestTimeoutMs, onRetry: opts.log });
  const deadline = () => Date.now() + (opts.crdTimeoutMs ?? 60_000);
  const pause = (ms: number) => sleep(ms, undefined, { signal: opts.signal });

  /** Waits until discovery serves apiVersion/kind (after its CRD is Established); returns whether it is namespaced. */
  const namespaced = async (apiVersion: string, kind: string, until: number): Promise<boolean> => {
    for (;;) {
      const found = await api.resource(apiVersion, kind);
      if (found) return found.namespaced;
      if (Date.now() > until) throw new AddonError(addon.name, `the API server does not serve ${apiVersion} ${kind} (is its CRD installed?)`);
      await pause(250);
    }
  };

  const labelled = objects.map((o) => {
    if (!o.apiVersion || !o.kind || !o.metadata?.name) throw new AddonError(addon.name, `an object lacks apiVersion, kind or metadata.name: ${JSON.stringify(o).slice(0, 200)}`);
    return withAddonLabels(o, name, addon.name);
  });
  const hash = contentHash(labelled);
  const { first, rest } = applyPhases(labelled);
  const prev = await readInventory(api, addon.name);
  const version = opts.version ?? 'user';
  const applied: ObjectRef[] = [];
  const adoptedNamespaces: ObjectRef[] = [];
  const seen = new Set<string>();

  const applyPhase = async (phase: K8sObject[], phaseDeadline: number) => {
    // Resolve namespaces (discovery waits for kinds whose CRDs were just established).
    const ready: { obj: K8sObject; ref: ObjectRef; live: KubeObject | undefined }[] = [];
    for (const obj of phase) {
      if (!isNamespace(obj) && !isCrd(obj)) {
        const isNamespaced = await namespaced(obj.apiVersion, obj.kind, phaseDeadline);
        if (isNamespaced && !obj.metadata.namespace) obj.metadata.namespace = 'default';
        if (!isNamespaced && obj.metadata.namespace) delete obj.metadata.namespace;
      } else if (obj.metadata.namespace) {
        delete obj.metadata.namespace;
      }
      const ref = refOf(obj);
      if (seen.has(refKey(ref))) throw new AddonError(addon.name, `${describeRef(ref)} appears twice`);
      seen.add(refKey(ref));
      // An existing object without mk's labels for this addon is not taken over silently.
      let cur = await api.read(ref);
      if (cur?.metadata?.deletionTimestamp && isNamespace(obj)) {
        // Removed a moment ago (addon disabled, then enabled again): nothing can be created in it until it is gone.
        opts.log?.(`waiting for ${describeRef(ref)} to finish terminating`);
        while (cur?.metadata?.deletionTimestamp) {
          if (Date.now() > phaseDeadline) throw new AddonError(addon.name, `${describeRef(ref)} is still terminating`);
          await pause(500);
          cur = await api.read(ref);
        }
      }
      if (cur && !ownedBy(cur.metadata?.labels, name, addon.name)) {
        if (isNamespace(obj) && !force) {
          adoptedNamespaces.push(ref);
          continue;
        }
        if (!force) {
          const other = cur.metadata?.labels?.[LABEL_ADDON];
          const owner = other && cur.metadata?.labels?.[LABEL_CLUSTER] === name ? `belongs to addon ${other}` : 'exists and was not created by mk';
          throw new AddonConflictError(addon.name, ref, owner);
        }
      }
      ready.push({ obj, ref, live: cur });
    }
    // Record intent before acting, so a run killed half-way leaves nothing untracked.
    const intent = unionRefs(prev?.objects ?? [], [...applied, ...ready.map((r) => r.ref)]);
    if (ready.length > 0 && (!prev || intent.length > prev.objects.length)) {
      await writeInventory(api, { ...(prev ?? { addon: addon.name, cluster: name, version, contentHash: '' }), objects: intent });
    }
    for (const { obj, ref, live } of ready) {
      if (live && opts.skipUnchanged !== false && isSubset(obj, live)) {
        // Already as desired: skip the request (server-side apply of identical content would not
        // change anything either; this saves a round trip per object on every re-apply).
        applied.push(ref);
        continue;
      }
      if (live) opts.log?.(`${describeRef(ref)} differs at ${firstDifference(obj, live) ?? '?'}`);
      try {
        await api.apply(obj, { force });
      } catch (err) {
        if (err instanceof KubeApiError && err.status === 409) throw new AddonConflictError(addon.name, ref, err.message);
        throw new AddonError(addon.name, `applying ${describeRef(ref)} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      applied.push(ref);
      opts.log?.(`applied ${describeRef(ref)}`);
    }
  };

  /** Waits until every CRD among refs is Established. */
  const waitEstablished = async (refs: readonly ObjectRef[], until: number) => {
    for (const ref of refs.filter(isCrd)) {
      for (;;) {
        const cur = await api.read<CustomResourceDefinition>(ref);
        const r = cur ? objectReadiness(cur) : { ready: false, reason: 'not found' };
        if (r.ready) break;
        if (Date.now() > until) throw new AddonError(addon.name, `${describeRef(ref)} ${r.reason ?? 'not ready'}`);
        await pause(200);
      }
    }
  };

  await applyPhase(first, deadline());
  await waitEstablished(applied, deadline());
  // Kinds defined by this addon's CRDs may take a moment to be served; any other unknown kind fails fast.
  const ownGroups = new Set(first.filter(isCrd).map((c) => (c.spec as { group?: string } | undefined)?.group));
  const unknownKindsDeadline = rest.some((o) => ownGroups.has(o.apiVersion.split('/')[0])) ? deadline() : Date.now() + (opts.unknownKindTimeoutMs ?? 5000);
  await applyPhase(rest, unknownKindsDeadline);

  const stale = subtractRefs(prev?.objects ?? [], applied);
  const { deleted: pruned } = await deleteOwned(api, name, addon.name, stale);
  await writeInventory(api, { addon: addon.name, cluster: name, version, contentHash: hash, ...(opts.specHash ? { specHash: opts.specHash } : {}), objects: applied });
  if (opts.wait) await waitForAddon(client, addon.name, applied, opts.wait);
  return { addon: addon.name, objects: applied, pruned, adoptedNamespaces, contentHash: hash, durationMs: Date.now() - start };
}
