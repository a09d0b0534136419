// mk watch -f FILE|DIR: reconcile on every save (debounced, coalesced) and re-observe periodically
// to repair drift. Invalid edits (or a spec that went missing) are reported once and leave the
// cluster alone. Ctrl-C stops cleanly; between runs, quietly.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { EXIT, MkError, SpecError, SpecFileError } from '../errors.js';
import { errorEvent, type ErrorEvent, type MkEvent, type Reporter } from '../log.js';
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

/**
 * Errors that come back at every drift check (an invalid or missing spec, an engine that is down)
 * are printed once, until a save: a run started by a save prints its error again when the spec it
 * read differs from the one of the last print (a drift check may read a save before its file event
 * arrives: the late event then prints nothing new), and an error that changes is printed as it is.
 */
export class RepeatedErrors {
  private readonly last = new Map<string, { message: string; spec: string }>();
  constructor(private readonly reporter: Reporter) {}

  /** key: '' for reading the spec, else the cluster whose run failed; spec: what the run read of it. */
  report(key: string, event: ErrorEvent, trigger: Trigger, spec: string): void {
    const last = this.last.get(key);
    if (last?.message === event.message && (trigger.kind !== 'change' || last.spec === spec)) {
      this.reporter.debug('the same error as at the last check (printed once until the spec changes)', { ...(key ? { cluster: key } : {}) });
      return;
    }
    this.last.set(key, { message: event.message, spec });
    this.reporter.emit(event);
  }

  clear(key: string): void {
    this.last.delete(key);
  }
}

/** The spec files as they are now (file or *.yaml of a directory; "missing" when unreadable), as one hash. */
async function specFingerprint(target: string): Promise<string> {
  const hash = createHash('sha256');
  const files = await readdir(target)
    .then((names) => names.filter((n) => /\.ya?ml$/.test(n)).sort().map((n) => join(target, n)))
    .catch(() => [target]);
  for (const f of files) hash.update(f).update('\0').update(await readFile(f).catch(() => 'missing')).update('\0');
  return hash.digest('hex');
}

/** Why the spec cannot be reconciled, said as watch goes on: the cluster is left as it is. */
function specErrorEvent(err: SpecError | SpecFileError): ErrorEvent {
  if (err instanceof SpecError) return { type: 'error', message: `invalid spec, cluster left as it is:\n${err.message}`, problems: err.problems };
  return { type: 'error', message: `${err.message}\ncluster left as it is until the spec can be read again` };
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

  const errors = new RepeatedErrors(ctx.reporter);

  const runOnce = async (trigger: Trigger): Promise<void> => {
    if (trigger.kind === 'change') ctx.reporter.emit({ type: 'info', message: `change detected: ${trigger.files.join(', ')}` });
    let specs;
    try {
      specs = await loadSpecs(target, { stdin: ctx.stdin });
    } catch (err) {
      if (!(err instanceof SpecError || err instanceof SpecFileError)) throw err;
      errors.report('', specErrorEvent(err), trigger, await specFingerprint(root));
      return;
    }
    errors.clear('');
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
        errors.clear(name);
        if (outcome !== 'stopped') stoppedSaid.delete(name);
        else if (!stoppedSaid.has(name)) {
          stoppedSaid.add(name);
          ctx.reporter.emit({ type: 'info', cluster: name, message: stoppedText(name, (await loadStopped(name))?.at ?? 'an earlier time') });
        }
      } catch (err) {
        if (ctx.signal.aborted) return;
        // Keep watching: the next save or drift check retries.
        errors.report(name, errorEvent(err, name), trigger, content);
      }
    }
  };

  const loop = new ReconcileLoop({
    debounceMs: opts.debounceMs,
    intervalMs: opts.intervalMs,
    run: runOnce,
    onError: (err) => ctx.reporter.emit(errorEvent(err)),
  });
  // Ctrl-C between runs has nothing to interrupt.
  ctx.idleWhen?.(() => !loop.busy);
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
