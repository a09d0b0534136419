// Repairs of a joined node that the plan found broken. kubelet.restart: a kubelet that does not run
// is restarted and must stay up; one that exits again fails the step at once with the last lines of
// its journal (the cause: a bad config, no container runtime, no inotify instances left...).
import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeHandle } from '../drivers/types.js';
import { formatSeconds } from '../duration.js';
import { done, skipped, type StepResult } from '../plan.js';
import { handle, runningNode, type BootstrapContext } from './context.js';
import { BootstrapError } from './errors.js';

/** How long a restarted kubelet must stay active, and how long it may take to get there. */
export const KUBELET_STEADY_MS = 3000;
export const KUBELET_START_MS = 20_000;

async function kubeletState(h: NodeHandle, signal: AbortSignal): Promise<string> {
  return (await h.exec(['systemctl', 'is-active', 'kubelet'], { signal })).stdout.trim();
}

/** The last lines the kubelet wrote to its journal, for an error message. */
export async function kubeletJournal(h: NodeHandle, signal: AbortSignal, lines = 15): Promise<string> {
  const r = await h.exec(['journalctl', '-u', 'kubelet', '-n', String(lines), '--no-pager', '-o', 'cat'], { signal });
  return r.exitCode === 0 && r.stdout.trim() ? r.stdout.trim() : '(no journal)';
}

export async function restartKubelet(ctx: BootstrapContext, name: string, opts: { steadyMs?: number; startMs?: number } = {}): Promise<StepResult> {
  await runningNode(ctx, name);
  const h = handle(ctx, name);
  const before = await kubeletState(h, ctx.signal);
  if (before === 'active') return skipped('kubelet is active');
  const t0 = Date.now();
  await h.run(['systemctl', 'restart', 'kubelet'], { signal: ctx.signal });
  const steadyMs = opts.steadyMs ?? KUBELET_STEADY_MS;
  const deadline = t0 + (opts.startMs ?? KUBELET_START_MS);
  let activeSince: number | undefined;
  let state = '';
  while (Date.now() < deadline) {
    state = await kubeletState(h, ctx.signal);
    if (state === 'failed') break;
    activeSince = state === 'active' ? (activeSince ?? Date.now()) : undefined;
    if (activeSince !== undefined && Date.now() - activeSince >= steadyMs) return done(`kubelet was ${before || 'not running'}; active again after ${formatSeconds(Date.now() - t0)}`);
    await sleep(500, undefined, { signal: ctx.signal });
  }
  throw new BootstrapError(
    `the kubelet on ${name} does not stay up after a restart (${state || 'no state'} after ${formatSeconds(Date.now() - t0)}); its journal ends:\n${await kubeletJournal(h, ctx.signal)}`,
  );
}
