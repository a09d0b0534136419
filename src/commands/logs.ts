// mk logs NAME [--output-dir DIR]: what a bug report needs, in one folder, like `kind export logs`
// and `minikube logs --file`. Per node: what the driver knows (docker: the container's inspect and
// console log; ssh: the host's facts), and on a running node its journals, a few commands and mk's
// files that hold no secret (src/kubeadm/diagnostics.ts); the cluster's Nodes, Pods and Events
// through a control plane; mk's log of its recent runs and the last applied spec. Every file passes
// the redaction filter and is written 0600 in 0700 folders. A node that does not run, or an API
// server that does not answer, is reported in the summary, never fatal.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import pLimit from 'p-limit';
import { capabilitiesOf } from '../drivers/capabilities.js';
import { clusterForName, driverFor } from '../drivers/index.js';
import type { Driver, ObservedCluster, ObservedNode, ReportFile } from '../drivers/types.js';
import { EXIT, MkError } from '../errors.js';
import { firstAdminAccess } from '../kubeadm/context.js';
import { clusterReport, readNodeFiles, table } from '../kubeadm/diagnostics.js';
import { formatStreamEvent, machineFormat } from '../output/format.js';
import { runLogDir, runLogFiles } from '../output/run-log.js';
import { redact } from '../redact.js';
import type { Cluster } from '../spec/types.js';
import { clusterStateDir, loadLastApplied, mkHome } from '../state.js';
import { VERSION } from '../version.js';
import type { CommandContext } from './context.js';

/** How long finding a control plane's admin access may take. */
const ADMIN_TIMEOUT_MS = 15_000;

export interface NodeSection {
  node: string;
  role: string;
  state: string;
  /** Paths of the files written, relative to the report folder. */
  files: string[];
  /** mk's files that are not on the node. */
  absent: string[];
  problems: string[];
}

export interface LogsReport {
  cluster: string;
  /** The report folder. */
  dir: string;
  collectedAt: string;
  nodes: NodeSection[];
  api: { files: string[]; through?: string; problems: string[] };
  mk: { files: string[]; runs: number };
  /** What could not be looked at in the whole (the driver could not list the cluster). */
  problems: string[];
}

export interface CollectInput {
  driver: Driver;
  cluster: Cluster;
  /** What the driver found; undefined when it could not look (then `problems` says why). */
  observed?: ObservedCluster;
  problems?: string[];
  dir: string;
  now: Date;
  signal?: AbortSignal;
  home?: string;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** A node name as a folder name (names are DNS labels; anything else is made harmless). */
const folderName = (name: string) => (/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) ? name : name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_'));

/** Writes every piece of the report into `dir` (redacted, 0600), then summary.txt; returns what it wrote. */
export async function collectLogs(input: CollectInput): Promise<LogsReport> {
  const { driver, cluster, dir, now, signal } = input;
  const name = cluster.metadata.name;
  const write = async (rel: string, content: string): Promise<string> => {
    const path = join(dir, rel);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeFile(path, redact(content), { mode: 0o600 });
    return rel;
  };
  const writeAll = (folder: string, files: readonly ReportFile[]) => Promise.all(files.map((f) => write(join(folder, f.name), f.content)));
  const nodes = [...(input.observed?.nodes ?? [])].sort((a, b) => a.name.localeCompare(b.name));
  const containerNode = capabilitiesOf(cluster).containerNodes;

  const nodeSection = async (n: ObservedNode): Promise<NodeSection> => {
    const folder = join('nodes', folderName(n.name));
    const section: NodeSection = { node: n.name, role: n.role, state: n.state, files: [], absent: [], problems: [] };
    try {
      section.files.push(...(await writeAll(folder, await driver.nodeReport(name, n.name, signal))));
    } catch (err) {
      signal?.throwIfAborted();
      section.problems.push(`what the driver knows of it: ${message(err)}`);
    }
    if (n.state !== 'running') {
      section.problems.push(`not running (${n.state}${n.detail ? `: ${n.detail}` : ''}): its journals and files were not read`);
      return section;
    }
    const read = await readNodeFiles(driver.node(name, n.name), { containerNode, ...(signal ? { signal } : {}) });
    section.files.push(...(await writeAll(folder, read.files)));
    section.absent = read.absent;
    section.problems.push(...read.problems);
    return section;
  };

  const apiSection = async (): Promise<LogsReport['api']> => {
    if (cluster.spec.bootstrap === 'none') return { files: [], problems: ['the cluster runs without Kubernetes (bootstrap: none)'] };
    const bounded = AbortSignal.any([...(signal ? [signal] : []), AbortSignal.timeout(ADMIN_TIMEOUT_MS)]);
    let access: Awaited<ReturnType<typeof firstAdminAccess>>;
    try {
      access = await firstAdminAccess(driver, cluster, nodes, { signal: bounded });
    } catch (err) {
      signal?.throwIfAborted();
      return { files: [], problems: [`no admin access through a control plane: ${message(err)}`] };
    }
    if (!access) return { files: [], problems: ['no running control plane has an admin kubeconfig: Nodes, Pods and Events not read'] };
    try {
      const r = await clusterReport(access.client, { now, ...(signal ? { signal } : {}) });
      return { files: await writeAll('cluster', r.files), through: access.node.name, problems: r.problems };
    } finally {
      access.client.close();
    }
  };

  const mkSection = async (): Promise<LogsReport['mk']> => {
    const home = input.home ?? mkHome();
    const runs = await runLogFiles(name, home);
    const files = await Promise.all(runs.map(async (f) => write(join('mk', 'runs', f), await readFile(join(runLogDir(name, home), f), 'utf8'))));
    const last = await readFile(join(clusterStateDir(name, home), 'last-applied.json'), 'utf8').catch(() => undefined);
    if (last !== undefined) files.push(await write(join('mk', 'last-applied.json'), last));
    return { files, runs: runs.length };
  };

  const limit = pLimit(3);
  const [sections, api, mk] = await Promise.all([Promise.all(nodes.map((n) => limit(() => nodeSection(n)))), apiSection(), mkSection()]);
  const report: LogsReport = { cluster: name, dir, collectedAt: now.toISOString(), nodes: sections, api, mk, problems: input.problems ?? [] };
  await write('summary.txt', `${formatLogsReport(report, { details: true })}\n`);
  return report;
}

/** The report for people: one line per part, then what could not be read. `details`: also mk's files each node lacks (summary.txt). */
export function formatLogsReport(r: LogsReport, opts: { details?: boolean } = {}): string {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const rows = [
    ...r.nodes.map((n) => [`nodes/${folderName(n.node)}/`, `${n.role}, ${n.state}`, plural(n.files.length, 'file')]),
    ['cluster/', r.api.through ? `through ${r.api.through}` : 'not read', r.api.files.map((f) => f.replace(/^cluster\//, '')).join(', ') || '-'],
    ['mk/', 'this machine', [plural(r.mk.runs, 'run log'), ...(r.mk.files.includes(join('mk', 'last-applied.json')) ? ['last applied spec'] : [])].join(', ')],
    ['summary.txt', '', ''],
  ];
  const lines = [
    `mk logs of cluster "${r.cluster}", collected ${r.collectedAt} by mk ${VERSION} (node ${process.version}, ${process.platform}/${process.arch}); secrets redacted`,
    ...table(rows).trimEnd().split('\n').map((l) => `  ${l}`),
  ];
  const problems = [
    ...r.problems,
    ...r.nodes.flatMap((n) => [...n.problems.map((p) => `${n.node}: ${p}`), ...(opts.details && n.absent.length ? [`${n.node}: not on the node: ${n.absent.join(', ')}`] : [])]),
    ...r.api.problems.map((p) => `cluster: ${p}`),
  ];
  if (problems.length) lines.push('  not collected:', ...problems.map((p) => `    ${p}`));
  return lines.join('\n');
}

function stamp(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

/** A new folder `mk-logs-NAME-STAMP` in cwd (a suffix when taken). */
async function newFolder(cwd: string, name: string, now: Date): Promise<string> {
  const base = join(cwd, `mk-logs-${name}-${stamp(now)}`);
  for (let i = 1; ; i++) {
    const dir = i === 1 ? base : `${base}-${i}`;
    try {
      await mkdir(dir, { mode: 0o700 });
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || i >= 100) throw err;
    }
  }
}

export interface LogsOptions {
  outputDir?: string;
  /** Where the new folder goes without outputDir (default: the current directory). */
  cwd?: string;
  now?: () => Date;
}

export async function logs(ctx: CommandContext, name: string, opts: LogsOptions = {}): Promise<number> {
  const debug = ctx.reporter.debug.bind(ctx.reporter);
  const last = await loadLastApplied(name);
  // Reach the cluster as status and delete do: with the driver settings it was last applied with, else by its name.
  const { driver, cluster } = last ? { driver: await driverFor(last, debug), cluster: last } : await clusterForName(name, debug);
  try {
    return await exportLogs(ctx, { driver, cluster, applied: last !== undefined }, opts);
  } finally {
    await driver.close?.();
  }
}

/** mk logs with the driver and spec found: `applied` when the spec is the last applied one (not assumed from the name). */
export async function exportLogs(ctx: CommandContext, target: { driver: Driver; cluster: Cluster; applied: boolean }, opts: LogsOptions = {}): Promise<number> {
  const { driver, cluster } = target;
  const name = cluster.metadata.name;
  const now = opts.now?.() ?? new Date();
  let observed: ObservedCluster | undefined;
  const problems: string[] = [];
  try {
    observed = await driver.observe(name, ctx.signal);
  } catch (err) {
    ctx.signal.throwIfAborted();
    problems.push(`the driver could not list the cluster's nodes: ${message(err)}`);
  }
  if (observed && observed.nodes.length === 0 && !observed.network && !target.applied && (await runLogFiles(name)).length === 0) {
    throw new MkError(`no cluster named "${name}": nothing carries its label, and mk keeps no state for it in ${clusterStateDir(name)}`);
  }
  const cwd = opts.cwd ?? process.cwd();
  const created = !opts.outputDir;
  const dir = opts.outputDir ? resolve(cwd, opts.outputDir) : await newFolder(cwd, name, now);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const report = await collectLogs({ driver, cluster, ...(observed ? { observed } : {}), problems, dir, now, signal: ctx.signal });
  const machine = machineFormat(ctx.output);
  if (machine) {
    const event = (type: string, body: object) => ctx.print(formatStreamEvent(machine, { ts: new Date().toISOString(), type, cluster: name, ...body }));
    for (const n of report.nodes) event('logs.node', n);
    event('logs.cluster', report.api);
    event('logs.mk', report.mk);
    event('logs.written', { dir, created, problems: report.problems });
  } else {
    const shown = relative(cwd, dir) || '.';
    ctx.print(formatLogsReport(report));
    ctx.print(`written to ${shown.startsWith('..') ? dir : shown}${created ? ' (a new folder)' : ''}: attach it to the bug report`);
  }
  return EXIT.ok;
}
