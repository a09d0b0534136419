// mk watch -f FILE|DIR: reconcile on every save (debounced, coalesced) and re-observe periodically
// to repair drift. Invalid edits are reported and leave the cluster alone. Ctrl-C stops cleanly.
import { resolve } from 'node:path';
import { EXIT, MkError, SpecError } from '../errors.js';
import type { MkEvent, Reporter } from '../log.js';
import { ReconcileLoop, type Trigger } from '../reconcile/watch.js';
import { loadSpecs } from '../spec/load.js';
import { loadStopped } from '../state.js';
import { applyOne, stoppedText, type ApplyOptions } from './apply.js';
import type { CommandContext } from './context.js';

export interface WatchOptions {
  intervalMs: number;
  debounceMs: number;
  /** How each run applies (the same options as mk apply). */
  apply: ApplyOptions;
}

/**
 * For drift checks: holds back an empty plan and its summary so an idle watcher stays quiet,
 * and announces a non-empty one as a repair.
 */
class DriftReporter implements Reporter {
  repaired = false;
  constructor(private readonly inner: Reporter) {}
  emit(e: MkEvent): void {
    if (e.type === 'plan') {
      if (e.plan.steps.length === 0) return;
      this.repaired = true;
      this.inner.emit({ type: 'info', cluster: e.plan.cluster, message: `drift detected on cluster "${e.plan.cluster}": repairing` });
    }
    if (e.type === 'summary' && !this.repaired) return;
    this.inner.emit(e);
  }
  debug(message: string, context?: Record<string, unknown>): void {
    this.inner.debug(message, context);
  }
}

export async function watch(ctx: CommandContext, target: string, opts: WatchOptions): Promise<number> {
  if (target === '-') throw new MkError('mk watch needs a file or directory, not stdin');
  const { watch: chokidarWatch } = await import('chokidar');
  const root = resolve(target);
  const watcher = chokidarWatch(root, { ignoreInitial: true, depth: 0 });
  const watched = new Set<string>([root]);
  // What each cluster's spec was at its last run: a drift check that finds the spec edited (its
  // file event not yet delivered) reports a change, not drift.
  const lastSpec = new Map<string, string>();
  // Clusters mk stop stopped, said once each (until they run again).
  const stoppedSaid = new Set<string>();

  const runOnce = async (trigger: Trigger): Promise<void> => {
    if (trigger.kind === 'change') ctx.reporter.emit({ type: 'info', message: `change detected: ${trigger.files.join(', ')}` });
    let specs;
    try {
      specs = await loadSpecs(target, { stdin: ctx.stdin });
    } catch (err) {
      if (!(err instanceof SpecError)) throw err;
      ctx.reporter.emit({ type: 'error', message: `invalid spec, cluster left as it is:\n${err.message}`, problems: err.problems });
      return;
    }
    for (const spec of specs) {
      for (const ref of spec.references) {
        if (!watched.has(ref)) {
          watched.add(ref);
          watcher.add(ref);
        }
      }
      if (ctx.signal.aborted) return;
      const name = spec.cluster.metadata.name;
      const content = JSON.stringify(spec.cluster);
      const edited = lastSpec.has(name) && lastSpec.get(name) !== content;
      lastSpec.set(name, content);
      const drift = trigger.kind === 'interval' && !edited;
      if (trigger.kind === 'interval' && edited) ctx.reporter.emit({ type: 'info', cluster: name, message: `change detected: ${spec.file}` });
      const reporter = drift ? new DriftReporter(ctx.reporter) : ctx.reporter;
      try {
        // A cluster stopped by mk stop is not "repaired" back up: only mk start or mk apply starts it.
        const outcome = await applyOne({ ...ctx, reporter }, spec, { ...opts.apply, leaveStopped: true });
        if (outcome !== 'stopped') stoppedSaid.delete(name);
        else if (!stoppedSaid.has(name)) {
          stoppedSaid.add(name);
          ctx.reporter.emit({ type: 'info', cluster: name, message: stoppedText(name, (await loadStopped(name))?.at ?? 'an earlier time') });
        }
      } catch (err) {
        if (ctx.signal.aborted) return;
        // Keep watching: the next save or drift check retries.
        ctx.reporter.emit({ type: 'error', cluster: name, message: err instanceof Error ? err.message : String(err) });
      }
    }
  };

  const loop = new ReconcileLoop({
    debounceMs: opts.debounceMs,
    intervalMs: opts.intervalMs,
    run: runOnce,
    onError: (err) => ctx.reporter.emit({ type: 'error', message: err instanceof Error ? err.message : String(err) }),
  });
  const isSpecFile = (p: string) => p === root || watched.has(p) || /\.ya?ml$/.test(p);
  for (const ev of ['add', 'change', 'unlink'] as const) {
    watcher.on(ev, (p: string) => {
      if (isSpecFile(p)) loop.fileChanged(p);
    });
  }
  watcher.on('error', (err) => ctx.reporter.emit({ type: 'warning', message: `watcher: ${String(err)}` }));
  await new Promise<void>((ready) => watcher.once('ready', () => ready()));
  ctx.reporter.emit({ type: 'info', message: `watching ${target} (drift check every ${Math.round(opts.intervalMs / 1000)}s); Ctrl-C to stop` });
  loop.start();

  await new Promise<void>((stop) => {
    if (ctx.signal.aborted) stop();
    ctx.signal.addEventListener('abort', () => stop(), { once: true });
  });
  await loop.stop();
  await watcher.close();
  ctx.reporter.emit({ type: 'info', message: 'watch stopped' });
  return EXIT.ok;
}
