// mk addons list [NAME]: every addon of mk's catalog (description, version, images, options, what
// mk's tests verified of it); with a cluster name, whether the cluster's known spec enables each,
// and whether it is installed, as the cluster's API server says (read through a control plane).
import { addonDependencies, desiredAddons } from '../spec/addons.js';
import { observeClusterAddons } from '../addons/observe.js';
import { CATALOG } from '../catalog/index.js';
import type { CatalogAddon, OptionsSchema, Verified } from '../catalog/types.js';
import { catalogImageTexts } from '../catalog/kubeadm-images.js';
import { driverFor } from '../drivers/index.js';
import type { ObservedAddons } from '../drivers/types.js';
import { EXIT, MkError } from '../errors.js';
import type { Cluster } from '../spec/types.js';
import { knownSpec } from '../state.js';
import type { CommandContext } from './context.js';

export interface AddonRow {
  name: string;
  description: string;
  version: string;
  /** The catalog's image references, by image key (the keys of addons[].images); one it shares with kubeadm names the tag as the cluster's. */
  images: Record<string, string>;
  dependsOn: string[];
  options: OptionsSchema;
  verified: Verified;
  /** With a cluster: whether its spec enables the addon, and why when the spec does not list it. */
  enabled?: boolean;
  enabledBy?: string;
  /** With a cluster whose addons could be read: whether the addon's inventory is there, and how many of its objects are gone. */
  installed?: boolean;
  missingObjects?: number;
}

export interface AddonList {
  /** The cluster asked about, and which of its specs says what is enabled. */
  cluster?: { name: string; spec: 'last-applied' | 'last-attempted'; bootstrap: Cluster['spec']['bootstrap'] };
  /** Why whether each addon is installed could not be read (no control plane answering...). */
  installedError?: string;
  addons: AddonRow[];
}

/** Whether the spec enables a catalog addon, and why when it does not list it. Pure. */
export function enablement(spec: Cluster, name: string): Pick<AddonRow, 'enabled' | 'enabledBy'> {
  const listed = spec.spec.addons.find((a) => a.name === name);
  if (listed) return { enabled: listed.enabled };
  const wanted = desiredAddons(spec).filter((a) => a.enabled);
  if (!wanted.some((a) => a.name === name)) return { enabled: false };
  if (name === 'metallb' && spec.spec.loadBalancer.enabled) return { enabled: true, enabledBy: 'loadBalancer.enabled' };
  const by = wanted.filter((a) => addonDependencies(a).includes(name)).map((a) => a.name);
  return { enabled: true, enabledBy: `needed by ${by.join(', ')}` };
}

/** The catalog as rows; with a spec (and what its cluster has installed), enabled and installed per addon. Pure. */
export function addonRows(spec?: Cluster, observed?: ObservedAddons): AddonRow[] {
  const installed = observed && !observed.error ? new Map(observed.installed.map((i) => [i.name, i])) : undefined;
  return [...CATALOG.values()]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((e: CatalogAddon) => {
      const inst = installed?.get(e.name);
      return {
        name: e.name,
        description: e.description,
        version: e.version,
        images: catalogImageTexts(e),
        dependsOn: e.dependsOn,
        options: e.optionsSchema,
        verified: e.verified,
        ...(spec ? enablement(spec, e.name) : {}),
        ...(installed ? { installed: inst !== undefined, ...(inst?.missing.length ? { missingObjects: inst.missing.length } : {}) } : {}),
      };
    });
}

const VERIFIED: Record<Verified['level'], string> = { api: 'api-server', running: 'running' };

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}

export function formatAddonList(list: AddonList): string {
  const withCluster = list.cluster !== undefined;
  const installedText = (r: AddonRow): string =>
    list.cluster?.bootstrap === 'none' ? '-' : r.installed === undefined ? '?' : r.installed ? (r.missingObjects ? `yes, ${r.missingObjects} object${r.missingObjects === 1 ? '' : 's'} gone` : 'yes') : 'no';
  const enabledText = (r: AddonRow): string => (r.enabled ? (r.enabledBy ? `yes (${r.enabledBy})` : 'yes') : 'no');
  const header = ['NAME', 'VERSION', ...(withCluster ? ['ENABLED', 'INSTALLED'] : []), 'VERIFIED', 'DESCRIPTION'];
  const rows = table([header, ...list.addons.map((r) => [r.name, r.version, ...(withCluster ? [enabledText(r), installedText(r)] : []), VERIFIED[r.verified.level], r.description])]);
  const indent = ' '.repeat(rows[0]!.indexOf('VERSION'));
  const lines = [rows[0]!];
  list.addons.forEach((r, i) => {
    lines.push(rows[i + 1]!);
    const images = Object.entries(r.images).map(([key, ref]) => `${key}=${ref}`);
    if (images.length) lines.push(`${indent}images: ${images.join(', ')}`);
  });
  // Each distinct detail once; where a level has several, each names its addons.
  const details = new Map<string, { level: Verified['level']; names: string[] }>();
  for (const r of list.addons) details.set(r.verified.detail, { level: r.verified.level, names: [...(details.get(r.verified.detail)?.names ?? []), r.name] });
  const shared = (level: Verified['level']) => [...details.values()].filter((d) => d.level === level).length > 1;
  const legend = [...details].map(([detail, { level, names }]) => [`  ${VERIFIED[level]}`, shared(level) ? `${names.join(', ')}: ${detail}` : detail]);
  lines.push('', "VERIFIED: what mk's tests have shown of each addon:", ...table(legend));
  if (list.cluster) {
    const from = list.cluster.spec === 'last-applied' ? 'its last applied spec' : 'the spec of its last apply attempted (none finished)';
    lines.push(`ENABLED: from ${from}.`);
    if (list.cluster.bootstrap === 'none') lines.push('INSTALLED: the cluster runs no Kubernetes (bootstrap: none).');
    else lines.push(list.installedError ? `INSTALLED: not checked: ${list.installedError}.` : "INSTALLED: as the cluster's API server says.");
  }
  return lines.join('\n');
}

/** What a cluster has installed; an error (never thrown) when it cannot be asked. */
async function installedAddons(ctx: CommandContext, spec: Cluster): Promise<ObservedAddons> {
  const driver = await driverFor(spec, ctx.reporter.debug.bind(ctx.reporter));
  try {
    const observed = await driver.observe(spec.metadata.name, ctx.signal);
    return await observeClusterAddons(driver, spec, observed, { signal: ctx.signal });
  } catch (err) {
    ctx.signal.throwIfAborted();
    return { installed: [], error: err instanceof Error ? err.message : String(err) };
  } finally {
    await driver.close?.();
  }
}

export async function addonsList(ctx: CommandContext, name: string | undefined): Promise<number> {
  const list: AddonList = { addons: addonRows() };
  if (name !== undefined) {
    const known = await knownSpec(name);
    if (!known) throw new MkError(`mk knows no spec of cluster "${name}": it was never applied from this machine ($MK_HOME). Apply it first, or run mk addons list without a name for the catalog`);
    const { spec } = known;
    list.cluster = { name, spec: known.applied ? 'last-applied' : 'last-attempted', bootstrap: spec.spec.bootstrap };
    const observed = spec.spec.bootstrap === 'kubeadm' ? await installedAddons(ctx, spec) : undefined;
    if (observed?.error) list.installedError = observed.error;
    list.addons = addonRows(spec, observed);
  }
  ctx.print(ctx.output === 'json' ? JSON.stringify(list) : formatAddonList(list));
  return EXIT.ok;
}
