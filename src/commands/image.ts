// mk image load IMAGE|ARCHIVE... --cluster NAME [--nodes a,b]: images from the driver's image source
// (the local Docker engine) or archive files into the running nodes' runtimes, nodes in parallel,
// through the images phase's own step (image.load: streamed, a node that holds an image by ID is
// skipped and says so, progress in the spinner). mk image ls NAME: what each node's runtime holds.
// The cluster is reached as mk last applied (or attempted) it, else found by its name.
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import pLimit from 'p-limit';
import { clusterForName, driverFor } from '../drivers/index.js';
import type { Driver, NodeImages, ObservedNode } from '../drivers/types.js';
import { EXIT, MkError } from '../errors.js';
import { readArchive, type ArchiveImages } from '../images/archive.js';
import { images } from '../images/phase.js';
import { loadDescription, type ImageStep } from '../images/plan.js';
import { readNodeImages, runtimeFor, shortId } from '../images/runtime.js';
import { missingImage } from '../images/source.js';
import { table } from '../kubeadm/diagnostics.js';
import type { PlannedStep } from '../plan.js';
import { DEFAULT_CONCURRENCY, stepId } from '../plan.js';
import { checkImageRef } from '../spec/image-refs.js';
import type { Cluster } from '../spec/types.js';
import { knownSpec } from '../state.js';
import type { CommandContext } from './context.js';

/** The cluster with the driver settings it was applied with, else as its name finds it; its nodes, which must exist. */
async function reach(ctx: CommandContext, name: string, use: (driver: Driver, cluster: Cluster, nodes: ObservedNode[]) => Promise<number>): Promise<number> {
  const debug = ctx.reporter.debug.bind(ctx.reporter);
  const known = (await knownSpec(name))?.spec;
  const { driver, cluster } = known ? { driver: await driverFor(known, debug), cluster: known } : await clusterForName(name, debug);
  try {
    const nodes = (await driver.observe(name, ctx.signal)).nodes.sort((a, b) => a.name.localeCompare(b.name));
    if (nodes.length === 0) throw new MkError(`no cluster named "${name}" has nodes (mk status lists the clusters mk finds)`);
    return await use(driver, cluster, nodes);
  } finally {
    await driver.close?.();
  }
}

/** The running nodes to load into: every one, or those named (each must exist and run). */
function targets(ctx: CommandContext, cluster: string, nodes: ObservedNode[], only: string[] | undefined): ObservedNode[] {
  if (only) {
    const unknown = only.filter((n) => !nodes.some((o) => o.name === n));
    if (unknown.length > 0) throw new MkError(`cluster ${cluster} has no node ${unknown.join(', ')} (its nodes: ${nodes.map((n) => n.name).join(', ')})`);
    const down = nodes.filter((n) => only.includes(n.name) && n.state !== 'running');
    if (down.length > 0) throw new MkError(`${down.map((n) => `node ${n.name} is ${n.state}`).join(', ')}: apply the cluster's spec to bring it up, then load`);
    return nodes.filter((n) => only.includes(n.name));
  }
  for (const n of nodes.filter((o) => o.state !== 'running')) ctx.reporter.emit({ type: 'warning', cluster, message: `node ${n.name} is ${n.state}: nothing is loaded into it` });
  const up = nodes.filter((n) => n.state === 'running');
  if (up.length === 0) throw new MkError(`no node of cluster ${cluster} is running`);
  return up;
}

const isFile = (arg: string): Promise<boolean> => stat(arg).then((s) => s.isFile(), () => false);

/** What the arguments name: archive files (read for their images) and references the source must have. */
async function sources(ctx: CommandContext, driver: Driver, args: readonly string[]): Promise<{ refs: string[]; archives: ArchiveImages[] }> {
  const refs: string[] = [];
  const archives: ArchiveImages[] = [];
  const problems: string[] = [];
  const source = driver.imageSource();
  for (const arg of args) {
    if (await isFile(arg)) archives.push(await readArchive(resolve(arg), ctx.signal));
    else if (checkImageRef(arg)) problems.push(`${arg} is neither a file nor an image reference: ${checkImageRef(arg)}`);
    else if (!(await source.inspect(arg, ctx.signal))) problems.push(missingImage(arg, source.description));
    else refs.push(arg);
  }
  if (problems.length > 0) throw new MkError(problems.join('\n'));
  return { refs, archives };
}

export interface ImageLoadOptions {
  cluster: string;
  /** Node names; default every running node. */
  nodes?: string[];
  concurrency?: number;
}

export async function imageLoad(ctx: CommandContext, args: readonly string[], opts: ImageLoadOptions): Promise<number> {
  const name = opts.cluster;
  return reach(ctx, name, async (driver, cluster, nodes) => {
    runtimeFor(cluster.spec.cri); // refuses a runtime mk cannot load into before anything moves
    const chosen = targets(ctx, name, nodes, opts.nodes);
    const { refs, archives } = await sources(ctx, driver, args);
    const what = [...refs, ...archives.map((a) => a.path)];
    const run = { cluster, startedAt: Date.now(), switchContext: false, shared: new Map<string, unknown>() };
    const limit = pLimit(opts.concurrency ?? DEFAULT_CONCURRENCY);
    const outcomes = await Promise.all(
      chosen.map((n) =>
        limit(async (): Promise<'done' | 'skipped' | 'waiting' | 'failed'> => {
          const step: ImageStep = { kind: 'image.load', node: n.name, images: refs, ...(archives.length ? { archives } : {}) };
          const planned: PlannedStep<ImageStep> = { id: stepId(step.kind, n.name), step, action: 'create', description: loadDescription(n.name, what), reason: 'mk image load', dependsOn: [] };
          const started = Date.now();
          ctx.reporter.emit({ type: 'step.started', cluster: name, step: planned });
          try {
            const r = await images.kinds['image.load'].run({ driver, cluster: name, reporter: ctx.reporter, signal: ctx.signal, run }, step, planned.id);
            ctx.reporter.emit({ type: 'step.finished', cluster: name, step: planned, outcome: r.outcome, durationMs: Date.now() - started, ...(r.detail ? { detail: r.detail } : {}) });
            return r.outcome;
          } catch (err) {
            ctx.signal.throwIfAborted();
            ctx.reporter.emit({ type: 'step.failed', cluster: name, step: planned, durationMs: Date.now() - started, error: (err as Error).message });
            return 'failed';
          }
        }),
      ),
    );
    const count = (o: string) => outcomes.filter((x) => x === o).length;
    const parts = [`${count('done')} loaded`, `${count('skipped')} held ${what.length === 1 ? 'it' : 'them'} already`, ...(count('waiting') ? [`${count('waiting')} not running`] : []), ...(count('failed') ? [`${count('failed')} failed`] : [])];
    ctx.reporter.emit({ type: 'info', cluster: name, message: `${what.join(', ')} into ${chosen.length} node${chosen.length === 1 ? '' : 's'} of cluster ${name}: ${parts.join(', ')}` });
    return count('failed') > 0 ? EXIT.error : EXIT.ok;
  });
}

export async function imageList(ctx: CommandContext, name: string): Promise<number> {
  return reach(ctx, name, async (driver, cluster, nodes) => {
    const runtime = runtimeFor(cluster.spec.cri);
    const limit = pLimit(8);
    const read = await Promise.all(
      nodes.map((n) => limit(async (): Promise<NodeImages | undefined> => (n.state === 'running' ? readNodeImages(driver.node(name, n.name), runtime, ctx.signal) : undefined))),
    );
    if (ctx.output === 'json') {
      nodes.forEach((n, i) => {
        const r = read[i];
        ctx.print(JSON.stringify({ ts: new Date().toISOString(), type: 'image.list', cluster: name, node: n.name, state: n.state, images: r?.held ?? [], ...(r?.error ? { error: r.error } : {}) }));
      });
      return EXIT.ok;
    }
    const rows: string[][] = [['NODE', 'IMAGE', 'ID', 'SIZE']];
    nodes.forEach((n, i) => {
      const r = read[i];
      if (!r) rows.push([n.name, `(${n.state}: not read)`, '', '']);
      else if (r.error) rows.push([n.name, `(not read: ${r.error})`, '', '']);
      else for (const h of [...r.held].sort((a, b) => a.ref.localeCompare(b.ref))) rows.push([n.name, h.ref, shortId(h.id), h.size ?? '']);
    });
    ctx.print(table(rows).trimEnd());
    return EXIT.ok;
  });
}
