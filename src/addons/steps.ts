// The addon steps of a plan, run through the admin access of a control plane.
//
// addon.apply renders the addon (catalog or user manifests; metallb's auto pool from the node
// network as observed now), server-side applies it with its inventory, then waits a bounded time
// for readiness: MK_ADDON_WAIT seconds (default 60; 0 does not wait). An addon that is not ready by
// then is reported (step detail and a warning naming each unready object), not failed: its objects
// are applied, and pods may still be pulling images. addon.remove deletes what the inventory lists.
import { adminAccess, type BootstrapContext } from '../kubeadm/context.js';
import { BootstrapError } from '../kubeadm/errors.js';
import { done, skipped, type StepResult } from '../plan.js';
import { formatSeconds } from '../duration.js';
import type { AddonSpec } from '../spec/types.js';
import { removeAddon } from '../manifests/remove.js';
import { poolAddresses } from '../catalog/metallb/index.js';
import { installAddon } from './index.js';
import { describeRef } from '../manifests/labels.js';
import { addonEnv } from './observe.js';
import { AddonNotReadyError } from '../manifests/errors.js';
import { waitForAddon } from '../manifests/readiness.js';
import { describeIngressDns, ingressDnsEndpoint } from './ingress-dns.js';

export const DEFAULT_ADDON_WAIT_SECONDS = 60;

/** How long addon.apply waits for readiness, from MK_ADDON_WAIT (seconds; 0: not at all). */
export function addonWaitMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.MK_ADDON_WAIT?.trim();
  if (raw === undefined || raw === '') return DEFAULT_ADDON_WAIT_SECONDS * 1000;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new BootstrapError(`MK_ADDON_WAIT must be a number of seconds (0: do not wait for addons to be ready), not ${JSON.stringify(raw)}`);
  return Math.round(n * 1000);
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

export async function applyAddonStep(ctx: BootstrapContext, addon: AddonSpec): Promise<StepResult> {
  const cluster = ctx.cluster.metadata.name;
  const waitMs = addonWaitMs();
  const admin = await adminAccess(ctx);
  const env = addonEnv(await ctx.driver.observe(cluster, ctx.signal));
  let changed = 0;
  const result = await installAddon(admin.client, ctx.cluster, addon, {
    specDir: ctx.specDir ?? process.cwd(),
    env,
    fetch: { signal: ctx.signal },
    signal: ctx.signal,
    log: (message) => {
      if (message.startsWith('applied ')) changed++;
      ctx.reporter.debug(`addon ${addon.name}: ${message}`, { cluster });
    },
  });
  const parts = [`${plural(result.objects.length, 'object')} (${changed} sent), ${result.pruned.length} pruned in ${formatSeconds(result.durationMs)}`];
  if (addon.name === 'metallb' && addon.manifests === undefined) parts.push(`pool ${poolAddresses(ctx.cluster, env).join(', ')}`);
  if (waitMs === 0) {
    parts.push('readiness not awaited (MK_ADDON_WAIT=0)');
  } else {
    try {
      const w = await waitForAddon(admin.client, addon.name, result.objects, { timeoutMs: waitMs, signal: ctx.signal });
      parts.push(`ready after ${formatSeconds(w.durationMs)}`);
    } catch (err) {
      if (!(err instanceof AddonNotReadyError)) throw err;
      const first = err.unready[0]!;
      const more = err.unready.length > 1 ? ` (+${err.unready.length - 1} more)` : '';
      parts.push(`not ready after ${formatSeconds(waitMs)}: ${describeRef(first.ref)} ${first.reason}${more}`);
      ctx.reporter.emit({
        type: 'warning',
        cluster,
        message: `${err.message}. Its objects are applied; mk does not fail the apply for this (MK_ADDON_WAIT=<seconds> waits longer)`,
      });
    }
  }
  if (addon.name === 'ingress-dns' && addon.manifests === undefined && waitMs > 0) {
    // Where to point a resolver: said once the server is up (mk status says it again later).
    try {
      parts.push(describeIngressDns(await ingressDnsEndpoint(admin.client, ctx.cluster, addon, ctx.signal)));
    } catch (err) {
      ctx.signal?.throwIfAborted();
      ctx.reporter.debug(`addon ingress-dns: its address could not be read: ${(err as Error).message}`, { cluster });
    }
  }
  return done(parts.join('; '));
}

export async function removeAddonStep(ctx: BootstrapContext, name: string): Promise<StepResult> {
  const cluster = ctx.cluster.metadata.name;
  const admin = await adminAccess(ctx);
  const r = await removeAddon(admin.client, ctx.cluster, name, { signal: ctx.signal, log: (message) => ctx.reporter.debug(`addon ${name}: ${message}`, { cluster }) });
  if (!r.inventory) return skipped('no inventory: already removed');
  for (const k of r.kept) ctx.reporter.emit({ type: 'warning', cluster, message: `addon ${name}: kept ${describeRef(k.ref)}: ${k.reason}` });
  return done(`${plural(r.deleted.length, 'object')} deleted${r.kept.length > 0 ? `, ${r.kept.length} kept (see warnings)` : ''} in ${formatSeconds(r.durationMs)}`);
}
