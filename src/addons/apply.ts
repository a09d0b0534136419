// Server-side apply of an addon's objects with an inventory, and removal of exactly what mk applied.
//
// applyAddon: label every object (mk.dev/cluster, mk.dev/addon, managed-by), then per phase
// (Namespaces + CRDs; wait for CRDs Established; everything else): refuse objects that exist without
// mk's labels for this addon (unless force), record the intent in the inventory, server-side apply
// as field manager "mk" (without force unless the addon says force: a conflict with another field
// manager is reported), then prune what an earlier apply created and this one no longer renders.
// removeAddon: delete what the inventory lists and still carries mk's labels for the addon.
import { ApiException, KubernetesObjectApi, type KubeConfig, type KubernetesObject, type V1APIResourceList, type V1ConfigMap, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import https from 'node:https';
import pRetry from 'p-retry';
import { MkError } from '../errors.js';
import { AddonConflictError, AddonError } from './errors.js';
import { readInstalled, type InstalledAddon, type ObjectReader } from './installed.js';
import { apiMessage, kubeRequest, type RestBody, type RestResponse } from '../kube/rest.js';
import { FIELD_MANAGER, LABEL_ADDON, LABEL_CLUSTER, describeRef, ownedBy, refKey, refOf, withAddonLabels } from './labels.js';
import {
  INVENTORY_NAMESPACE,
  LABEL_INVENTORY,
  contentHash,
  inventoryConfigMap,
  inventoryName,
  parseInventory,
  subtractRefs,
  unionRefs,
  type Inventory,
} from './inventory.js';
import { applyPhases, isCrd, isNamespace, removalOrder } from './order.js';
import { objectReadiness, waitForAddon, type WaitOptions } from './readiness.js';
import type { K8sObject, ObjectRef } from './types.js';

export { AddonError, AddonConflictError } from './errors.js';

export interface ClusterRefLike {
  metadata: { name: string };
}
const clusterName = (c: string | ClusterRefLike): string => (typeof c === 'string' ? c : c.metadata.name);

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
  /** Time allowed for each read, apply and list request. Default 60 s. */
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

export interface RemoveResult {
  addon: string;
  /** Whether the addon had an inventory (false: nothing to remove). */
  inventory: boolean;
  deleted: ObjectRef[];
  /** Listed in the inventory but kept: no longer carries mk's labels for the addon, or (CRDs) still has objects mk did not create. */
  kept: { ref: ObjectRef; reason: string }[];
  durationMs: number;
}

export type { InstalledAddon } from './installed.js';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

/** 429, 5xx, or a connection-level failure: worth retrying. */
export function isTransient(err: unknown): boolean {
  if (err instanceof ApiException) return err.code === 429 || err.code >= 500;
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
    if ((e as { type?: unknown }).type === 'system') return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

function codeOf(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

/**
 * Whether every field of desired has the same value in live (arrays: same length, item by item).
 * Fields live has in addition (defaults, status, managedFields) do not matter. Pure.
 */
export function isSubset(desired: unknown, live: unknown): boolean {
  if (Array.isArray(desired)) {
    return Array.isArray(live) && live.length === desired.length && desired.every((d, i) => isSubset(d, live[i]));
  }
  if (desired !== null && typeof desired === 'object') {
    if (live === null || typeof live !== 'object' || Array.isArray(live)) return false;
    return Object.entries(desired as Record<string, unknown>).every(([k, v]) => v === undefined || isSubset(v, (live as Record<string, unknown>)[k]));
  }
  return desired === live;
}

/** The first path where desired differs from live (for debug lines), or undefined. Pure. */
export function firstDifference(desired: unknown, live: unknown, at = ''): string | undefined {
  if (Array.isArray(desired)) {
    if (!Array.isArray(live) || live.length !== desired.length) return at || '.';
    for (let i = 0; i < desired.length; i++) {
      const d = firstDifference(desired[i], live[i], `${at}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (desired !== null && typeof desired === 'object') {
    if (live === null || typeof live !== 'object' || Array.isArray(live)) return at || '.';
    for (const [k, v] of Object.entries(desired as Record<string, unknown>)) {
      if (v === undefined) continue;
      const d = firstDifference(v, (live as Record<string, unknown>)[k], `${at}.${k}`);
      if (d) return d;
    }
    return undefined;
  }
  return desired === live ? undefined : at || '.';
}

/**
 * An agent with the kubeconfig's TLS settings that keeps connections open, so the many small reads
 * and applies of a session share a few TLS handshakes (idle sockets do not keep the process alive).
 * Undefined behind a proxy: then every request builds its own agent.
 */
async function keepAliveAgent(kc: KubeConfig): Promise<https.Agent | undefined> {
  if (kc.getCurrentCluster()?.proxyUrl) return undefined;
  const options: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(options);
  return options.agent instanceof https.Agent ? new https.Agent({ ...options.agent.options, keepAlive: true, maxSockets: 4 }) : undefined;
}

function header(ref: ObjectRef): KubernetesObject & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } } {
  return { apiVersion: ref.apiVersion, kind: ref.kind, metadata: ref.namespace ? { name: ref.name, namespace: ref.namespace } : { name: ref.name } };
}

/**
 * KubernetesObjectApi with its (protected) discovery lookup exposed, and a raw read: the typed
 * models rename fields (x-kubernetes-* -> x_kubernetes_*) and convert values, so comparisons with
 * what mk renders use the JSON the API server sends.
 */
class ObjectApi extends KubernetesObjectApi {
  private kc!: KubeConfig;
  private requestOptions: { signal?: AbortSignal; timeoutMs?: number } = {};
  private agent: Promise<https.Agent | undefined> | undefined;
  private discovering = new Map<string, Promise<void>>();
  /**
   * Whether apiVersion serves kind, and if it is namespaced. Discovery is read once per apiVersion
   * (even when many reads start at once) over the session's connections, and fills the typed
   * client's cache, which its URL building reads. A kind missing from a cached list is asked again
   * (its CRD may have been established since). 404: the apiVersion is not served (ApiException).
   */
  async discover(apiVersion: string, kind: string): Promise<{ namespaced: boolean } | undefined> {
    const cached = this.apiVersionResourceCache[apiVersion]?.resources.find((r) => r.kind === kind);
    if (cached) return cached;
    let pending = this.discovering.get(apiVersion);
    if (!pending) {
      pending = (async () => {
        const urlPath = this.apiVersionPath(apiVersion);
        const res = await this.request('GET', urlPath);
        if (res.status < 200 || res.status >= 300) throw new ApiException(res.status, `HTTP ${res.status} reading ${urlPath}`, res.body, {});
        this.apiVersionResourceCache[apiVersion] = JSON.parse(res.body) as V1APIResourceList;
      })().finally(() => this.discovering.delete(apiVersion));
      this.discovering.set(apiVersion, pending);
    }
    await pending;
    return this.apiVersionResourceCache[apiVersion]?.resources.find((r) => r.kind === kind);
  }
  private request(method: string, urlPath: string, body?: RestBody): Promise<RestResponse> {
    return (this.agent ??= keepAliveAgent(this.kc)).then((agent) => kubeRequest(this.kc, method, urlPath, body, { ...this.requestOptions, ...(agent ? { agent } : {}) }));
  }

  /** The object as JSON, or undefined (404). Errors are ApiException (HTTP) or connection errors. */
  async readRaw(ref: ObjectRef): Promise<(KubernetesObject & Record<string, unknown>) | undefined> {
    // A kind the API server does not serve (its CRD is gone): the object cannot exist.
    let known: unknown;
    try {
      known = await this.discover(ref.apiVersion, ref.kind);
    } catch (err) {
      if (!(err instanceof ApiException && err.code === 404)) throw err;
    }
    if (!known) return undefined;
    const urlPath = await this.specUriPath(header(ref), 'read');
    const res = await this.request('GET', urlPath);
    if (res.status === 404) return undefined;
    if (res.status < 200 || res.status >= 300) throw new ApiException(res.status, `HTTP ${res.status} reading ${urlPath}`, res.body, {});
    return JSON.parse(res.body) as KubernetesObject & Record<string, unknown>;
  }

  /** Server-side apply of obj exactly as given (JSON is YAML), as field manager "mk". */
  async applyRaw(obj: K8sObject, force: boolean): Promise<KubernetesObject> {
    const urlPath = await this.specUriPath(structuredClone(obj), 'patch');
    const query = `?fieldManager=${FIELD_MANAGER}${force ? '&force=true' : ''}`;
    const res = await this.request('PATCH', urlPath + query, { contentType: 'application/apply-patch+yaml', text: JSON.stringify(obj) });
    if (res.status < 200 || res.status >= 300) throw new ApiException(res.status, `HTTP ${res.status} applying ${urlPath}`, res.body, {});
    return JSON.parse(res.body) as KubernetesObject;
  }

  /** Selected objects of a kind as JSON (one request, no discovery): for the inventories. */
  async listRaw<T>(urlPath: string): Promise<T[]> {
    const res = await this.request('GET', urlPath);
    if (res.status < 200 || res.status >= 300) throw new ApiException(res.status, `HTTP ${res.status} listing ${urlPath}`, res.body, {});
    return (JSON.parse(res.body) as { items?: T[] }).items ?? [];
  }

  /** signal cancels and timeoutMs bounds each of mk's own requests (reads, applies, discovery; not the typed client's lists and deletes). */
  static for(kc: KubeConfig, requestOptions: { signal?: AbortSignal; timeoutMs?: number } = {}): ObjectApi {
    const api = kc.makeApiClient(ObjectApi);
    api.setDefaultNamespace(kc);
    api.kc = kc;
    api.requestOptions = requestOptions;
    return api;
  }
}

class Session {
  readonly api: ObjectApi;
  constructor(
    readonly kc: KubeConfig,
    readonly opts: ApplyOptions,
  ) {
    this.api = ObjectApi.for(kc, {
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.requestTimeoutMs !== undefined ? { timeoutMs: opts.requestTimeoutMs } : {}),
    });
  }

  retry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return pRetry(fn, {
      retries: this.opts.retries ?? 6,
      minTimeout: 200,
      maxTimeout: 4000,
      factor: 2,
      ...(this.opts.signal ? { signal: this.opts.signal } : {}),
      shouldRetry: ({ error }) => isTransient(error),
      onFailedAttempt: ({ error, retriesLeft }) => {
        if (isTransient(error) && retriesLeft > 0) this.opts.log?.(`${what}: ${apiMessage(error)}; retrying`);
      },
    });
  }

  /** The object as the cluster has it (raw JSON), or undefined (404). */
  async get<T extends KubernetesObject>(ref: ObjectRef): Promise<T | undefined> {
    return (await this.retry(`read ${describeRef(ref)}`, () => this.api.readRaw(ref))) as T | undefined;
  }

  async readInventory(addon: string): Promise<Inventory | undefined> {
    const cm = await this.get<V1ConfigMap>({ apiVersion: 'v1', kind: 'ConfigMap', namespace: INVENTORY_NAMESPACE, name: inventoryName(addon) });
    return cm ? parseInventory(cm) : undefined;
  }

  async writeInventory(inv: Inventory): Promise<void> {
    const cm = inventoryConfigMap(inv) as K8sObject;
    await this.retry('write inventory', () => this.api.applyRaw(cm, true));
  }

  /** Waits until discovery serves apiVersion/kind (after its CRD is Established); returns whether it is namespaced. */
  async namespaced(apiVersion: string, kind: string, deadline: number): Promise<boolean> {
    for (;;) {
      let found: { namespaced: boolean } | undefined;
      try {
        found = await this.retry(`discover ${apiVersion} ${kind}`, () => this.api.discover(apiVersion, kind));
      } catch (err) {
        if (codeOf(err) !== 404) throw err;
      }
      if (found) return found.namespaced;
      if (Date.now() > deadline) throw new MkError(`the API server does not serve ${apiVersion} ${kind} (is its CRD installed?)`);
      this.opts.signal?.throwIfAborted();
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async delete(ref: ObjectRef): Promise<void> {
    try {
      await this.retry(`delete ${describeRef(ref)}`, () => this.api.delete(header(ref), undefined, undefined, undefined, undefined, 'Background'));
    } catch (err) {
      if (codeOf(err) !== 404) throw err;
    }
  }
}

/**
 * Deletes refs (in removal order) that still carry mk's labels for this cluster and addon.
 * A CRD is kept while objects of its kind exist that mk did not create for this addon.
 */
async function deleteOwned(s: Session, cluster: string, addon: string, refs: readonly ObjectRef[]): Promise<{ deleted: ObjectRef[]; kept: { ref: ObjectRef; reason: string }[] }> {
  const deleted: ObjectRef[] = [];
  const kept: { ref: ObjectRef; reason: string }[] = [];
  for (const ref of removalOrder(refs)) {
    const cur = await s.get<KubernetesObject>(ref);
    if (!cur) continue;
    if (!ownedBy(cur.metadata?.labels, cluster, addon)) {
      kept.push({ ref, reason: `does not carry mk's labels for addon ${addon}` });
      continue;
    }
    if (isCrd(ref)) {
      const crd = cur as V1CustomResourceDefinition;
      const version = crd.spec.versions.find((v) => v.storage)?.name ?? crd.spec.versions[0]?.name;
      if (version) {
        try {
          const list = await s.retry('list custom resources', () => s.api.list(`${crd.spec.group}/${version}`, crd.spec.names.kind));
          const foreign = list.items.filter((i) => !ownedBy(i.metadata?.labels, cluster, addon));
          if (foreign.length > 0) {
            kept.push({ ref, reason: `${foreign.length} ${crd.spec.names.kind} object(s) not created by mk still exist` });
            continue;
          }
        } catch (err) {
          if (codeOf(err) !== 404) throw err;
        }
      }
    }
    await s.delete(ref);
    deleted.push(ref);
  }
  return { deleted, kept };
}

async function waitEstablished(s: Session, addon: string, refs: readonly ObjectRef[], deadline: number): Promise<void> {
  for (const ref of refs.filter(isCrd)) {
    for (;;) {
      const cur = await s.get<V1CustomResourceDefinition>(ref);
      const r = cur ? objectReadiness(cur as never) : { ready: false, reason: 'not found' };
      if (r.ready) break;
      if (Date.now() > deadline) throw new AddonError(addon, `${describeRef(ref)} ${r.reason ?? 'not ready'}`);
      s.opts.signal?.throwIfAborted();
      await new Promise((res) => setTimeout(res, 200));
    }
  }
}

/**
 * Applies an addon's objects (server-side apply, field manager "mk") and records them in its
 * inventory; prunes objects an earlier apply of the same addon created that are no longer rendered.
 * Re-applying identical objects changes nothing (no resourceVersion moves).
 */
export async function applyAddon(
  kc: KubeConfig,
  cluster: string | ClusterRefLike,
  addon: { name: string; force?: boolean },
  objects: readonly K8sObject[],
  opts: ApplyOptions = {},
): Promise<ApplyResult> {
  const start = Date.now();
  const name = clusterName(cluster);
  const force = opts.force ?? addon.force ?? false;
  const s = new Session(kc, opts);
  const deadline = () => Date.now() + (opts.crdTimeoutMs ?? 60_000);

  const labelled = objects.map((o) => {
    if (!o.apiVersion || !o.kind || !o.metadata?.name) throw new AddonError(addon.name, `an object lacks apiVersion, kind or metadata.name: ${JSON.stringify(o).slice(0, 200)}`);
    return withAddonLabels(o, name, addon.name);
  });
  const hash = contentHash(labelled);
  const { first, rest } = applyPhases(labelled);
  const prev = await s.readInventory(addon.name);
  const version = opts.version ?? 'user';
  const applied: ObjectRef[] = [];
  const adoptedNamespaces: ObjectRef[] = [];
  const seen = new Set<string>();

  const applyPhase = async (phase: K8sObject[], phaseDeadline: number) => {
    // Resolve namespaces (discovery waits for kinds whose CRDs were just established).
    const ready: { obj: K8sObject; ref: ObjectRef; live: KubernetesObject | undefined }[] = [];
    for (const obj of phase) {
      if (!isNamespace(obj) && !isCrd(obj)) {
        let namespaced: boolean;
        try {
          namespaced = await s.namespaced(obj.apiVersion, obj.kind, phaseDeadline);
        } catch (err) {
          if (err instanceof MkError) throw new AddonError(addon.name, err.message, { cause: err });
          throw err;
        }
        if (namespaced && !obj.metadata.namespace) obj.metadata.namespace = 'default';
        if (!namespaced && obj.metadata.namespace) delete obj.metadata.namespace;
      } else if (obj.metadata.namespace) {
        delete obj.metadata.namespace;
      }
      const ref = refOf(obj);
      if (seen.has(refKey(ref))) throw new AddonError(addon.name, `${describeRef(ref)} appears twice`);
      seen.add(refKey(ref));
      // An existing object without mk's labels for this addon is not taken over silently.
      let cur = await s.get<KubernetesObject>(ref);
      if (cur?.metadata?.deletionTimestamp && isNamespace(obj)) {
        // Removed a moment ago (addon disabled, then enabled again): nothing can be created in it until it is gone.
        opts.log?.(`waiting for ${describeRef(ref)} to finish terminating`);
        while (cur?.metadata?.deletionTimestamp) {
          if (Date.now() > phaseDeadline) throw new AddonError(addon.name, `${describeRef(ref)} is still terminating`);
          opts.signal?.throwIfAborted();
          await new Promise((r) => setTimeout(r, 500));
          cur = await s.get<KubernetesObject>(ref);
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
      await s.writeInventory({ ...(prev ?? { addon: addon.name, cluster: name, version, contentHash: '' }), objects: intent });
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
        await s.retry(`apply ${describeRef(ref)}`, () => s.api.applyRaw(obj, force));
      } catch (err) {
        if (codeOf(err) === 409) throw new AddonConflictError(addon.name, ref, apiMessage(err));
        throw new AddonError(addon.name, `applying ${describeRef(ref)} failed: ${apiMessage(err)}`, { cause: err });
      }
      applied.push(ref);
      opts.log?.(`applied ${describeRef(ref)}`);
    }
  };

  await applyPhase(first, deadline());
  await waitEstablished(s, addon.name, applied, deadline());
  // Kinds defined by this addon's CRDs may take a moment to be served; any other unknown kind fails fast.
  const ownGroups = new Set(first.filter(isCrd).map((c) => (c.spec as { group?: string } | undefined)?.group));
  const unknownKindsDeadline = rest.some((o) => ownGroups.has(o.apiVersion.split('/')[0])) ? deadline() : Date.now() + (opts.unknownKindTimeoutMs ?? 5000);
  await applyPhase(rest, unknownKindsDeadline);

  const stale = subtractRefs(prev?.objects ?? [], applied);
  const { deleted: pruned } = await deleteOwned(s, name, addon.name, stale);
  await s.writeInventory({ addon: addon.name, cluster: name, version, contentHash: hash, ...(opts.specHash ? { specHash: opts.specHash } : {}), objects: applied });
  if (opts.wait) await waitForAddon(kc, addon.name, applied, opts.wait);
  return { addon: addon.name, objects: applied, pruned, adoptedNamespaces, contentHash: hash, durationMs: Date.now() - start };
}

/** Deletes what the addon's inventory lists and still carries mk's labels for it, then the inventory. No inventory: nothing to do. */
export async function removeAddon(kc: KubeConfig, cluster: string | ClusterRefLike, addon: string, opts: Pick<ApplyOptions, 'signal' | 'log' | 'retries'> = {}): Promise<RemoveResult> {
  const start = Date.now();
  const name = clusterName(cluster);
  const s = new Session(kc, opts);
  const inv = await s.readInventory(addon);
  if (!inv || inv.cluster !== name) return { addon, inventory: false, deleted: [], kept: [], durationMs: Date.now() - start };
  const result = await deleteOwned(s, name, addon, inv.objects);
  for (const d of result.deleted) opts.log?.(`deleted ${describeRef(d)}`);
  await s.delete({ apiVersion: 'v1', kind: 'ConfigMap', namespace: INVENTORY_NAMESPACE, name: inventoryName(addon) });
  return { addon, inventory: true, ...result, durationMs: Date.now() - start };
}

/**
 * What is installed, from the inventories of this cluster (see readInstalled). The inventories are
 * listed with one plain request (no discovery), so a cluster without addons costs one round trip.
 */
export async function observeAddons(
  kc: KubeConfig,
  cluster: string | ClusterRefLike,
  opts: { checkObjects?: boolean } & Pick<ApplyOptions, 'signal' | 'retries' | 'requestTimeoutMs' | 'log'> = {},
): Promise<InstalledAddon[]> {
  const s = new Session(kc, opts);
  const reader: ObjectReader = {
    listInventories: async (name) => {
      const selector = encodeURIComponent(`${LABEL_CLUSTER}=${name},${LABEL_INVENTORY}=true`);
      try {
        return await s.retry('list addon inventories', () => s.api.listRaw<V1ConfigMap>(`/api/v1/namespaces/${INVENTORY_NAMESPACE}/configmaps?labelSelector=${selector}`));
      } catch (err) {
        if (codeOf(err) === 404) return [];
        throw err;
      }
    },
    get: (ref) => s.get<KubernetesObject>(ref),
  };
  return readInstalled(reader, clusterName(cluster), opts);
}
