// The image.load step: images into one node's runtime, streamed from the source (`docker save`) or
// from archive files straight into the runtime's import on the node (docker exec or ssh, stdin),
// never staged on disk. Checks before it acts: images the node holds (same reference, same ID) are
// not sent again, and a node that holds them all is skipped. Progress goes to the reporter about
// once a second.
import { createReadStream } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StepError } from '../errors.js';
import { formatTransfer } from '../log.js';
import type { ExecResult, ImageSource, NodeHandle, SourceImage } from '../drivers/types.js';
import type { StepContext } from '../phase/types.js';
import { done, skipped, waiting, type StepResult } from '../plan.js';
import { normalizeImageRef } from '../spec/image-refs.js';
import type { ImageStep } from './plan.js';
import { holds, readNodeImages, runtimeFailure, runtimeFor, shortId, type Runtime } from './runtime.js';
import { missingImage } from './source.js';

const PROGRESS_EVERY_MS = 1000;

/** The source's image for `ref`; pulled first when the source lacks it (once per run for every node that needs it). */
async function sourceImage(ctx: StepContext, source: ImageSource, ref: string, stepId: string): Promise<SourceImage> {
  const found = await source.inspect(ref, ctx.signal);
  if (found) return found;
  const shared = ctx.run?.shared ?? new Map<string, unknown>();
  const key = `images.pull:${ref}`;
  let pulled = shared.get(key) as Promise<SourceImage | string> | undefined;
  if (!pulled) {
    pulled = (async () => {
      const why = await source.pullable(ref, ctx.signal);
      if (why !== undefined) return why;
      ctx.reporter.emit({ type: 'info', cluster: ctx.cluster, message: `pulling ${ref} into ${source.description}` });
      await source.pull(ref, ctx.signal);
      return (await source.inspect(ref, ctx.signal)) ?? 'the engine does not list it after the pull';
    })();
    shared.set(key, pulled);
  }
  const got = await pulled;
  if (typeof got === 'string') throw new StepError(stepId, missingImage(ref, source.description, got));
  return got;
}

interface Sent {
  bytes: number;
  ms: number;
}

/** Streams one archive into the node's runtime import, counting bytes for the progress events. */
async function send(ctx: StepContext, node: NodeHandle, runtime: Runtime, archive: Readable, totalBytes: number, stepId: string): Promise<Sent> {
  const started = Date.now();
  let bytes = 0;
  let last = started;
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      const now = Date.now();
      if (now - last >= PROGRESS_EVERY_MS) {
        last = now;
        ctx.reporter.emit({ type: 'progress', cluster: ctx.cluster, id: stepId, bytes, totalBytes, elapsedMs: now - started });
      }
      callback(null, chunk);
    },
  });
  // The source's errors reach the import as a failed input; the import ending early ends the source.
  const flowing = pipeline(archive, counted).catch((err: unknown) => err);
  let r: ExecResult;
  try {
    r = await node.exec(runtime.import, { stdin: counted, signal: ctx.signal });
  } catch (err) {
    counted.destroy();
    await flowing;
    throw err;
  }
  const failed = await flowing;
  if (r.exitCode !== 0) throw new StepError(stepId, `node ${node.name}: ${runtimeFailure(runtime, runtime.import, r)}`);
  if (failed instanceof Error && !counted.readableEnded) throw new StepError(stepId, `node ${node.name}: the image stream broke off: ${failed.message}`);
  return { bytes, ms: Date.now() - started };
}

/** "nginx:1.27 (sha256:0123456789ab)" */
const named = (ref: string, id: string): string => `${ref} (${shortId(id)})`;

export async function loadImages(ctx: StepContext, step: ImageStep, stepId: string): Promise<StepResult> {
  if (!ctx.run) throw new StepError(stepId, 'image.load needs the cluster spec');
  const runtime = runtimeFor(ctx.run.cluster.spec.cri);
  const observed = (await ctx.driver.observe(ctx.cluster, ctx.signal)).nodes.find((n) => n.name === step.node);
  if (!observed) return waiting(`node ${step.node} does not exist; the next apply creates it`);
  if (observed.state !== 'running') return waiting(`node ${step.node} is ${observed.state}`);
  const node = ctx.driver.node(ctx.cluster, step.node);
  const before = await readNodeImages(node, runtime, ctx.signal);
  if (before.error) throw new StepError(stepId, `node ${step.node}: ${before.error}`);

  const source = ctx.driver.imageSource();
  const wanted = await Promise.all(step.images.map((ref) => sourceImage(ctx, source, ref, stepId)));
  const held = (i: { ref: string; id: string }) => holds(before.held, i.ref, i.id);
  const fromSource = wanted.filter((w) => !held(w));
  const archives = (step.archives ?? []).filter((a) => !a.images.every(held));
  const present = [...wanted, ...(step.archives ?? []).flatMap((a) => (archives.includes(a) ? [] : a.images))].filter(held).map((i) => named(i.ref, i.id));
  if (fromSource.length === 0 && archives.length === 0) return skipped(`node ${step.node} holds ${present.join(', ')}`);

  let total: Sent = { bytes: 0, ms: 0 };
  const add = (s: Sent) => (total = { bytes: total.bytes + s.bytes, ms: total.ms + s.ms });
  if (fromSource.length > 0) {
    const refs = fromSource.map((w) => w.ref);
    add(await send(ctx, node, runtime, await source.save(refs, ctx.signal), fromSource.reduce((n, w) => n + w.size, 0), stepId));
  }
  for (const a of archives) add(await send(ctx, node, runtime, createReadStream(a.path), a.bytes, stepId));

  // The runtime lists what it imported under the names asked for, and by the image IDs.
  const loaded = [...fromSource.map((w) => ({ ref: w.ref, id: w.id })), ...archives.flatMap((a) => a.images)];
  let after = await readNodeImages(node, runtime, ctx.signal);
  const unnamed = loaded.filter((i) => holds(after.held, i.ref) && !holds(after.held, i.ref, i.id));
  if (unnamed.length > 0 && runtime.nameById) {
    for (const i of unnamed) await node.run(runtime.nameById(i.ref, i.id), { signal: ctx.signal });
    after = await readNodeImages(node, runtime, ctx.signal);
  }
  const absent = loaded.filter((i) => !holds(after.held, i.ref, i.id)).map((i) => named(normalizeImageRef(i.ref), i.id));
  if (absent.length > 0) throw new StepError(stepId, `node ${step.node}: ${runtime.name} does not list ${absent.join(', ')} after the import${after.error ? ` (${after.error})` : ''}`);
  return done(`${formatTransfer(total.bytes, total.ms)}${present.length ? `; held already: ${present.join(', ')}` : ''}`);
}
