// mk stop NAME: every node stops and is kept (docker: containers stopped with their volumes, addresses
// and API port; ssh: the kubelet and the runtime's pods stop, the machines stay up). mk records that the
// cluster is stopped, so mk watch does not start it again; mk start NAME brings it back.
import { EXIT } from '../errors.js';
import { withClusterLock } from '../reconcile/lock.js';
import { executeWholeCluster, planWholeCluster } from '../reconcile/runner.js';
import { loadStopped, saveStopped } from '../state.js';
import { withRunLog } from './apply.js';
import type { CommandContext } from './context.js';
import { withNamedCluster } from './target.js';

export async function stop(ctx: CommandContext, name: string): Promise<number> {
  await withNamedCluster(ctx, name, ({ target, driver }) =>
    withRunLog(ctx, name, (reporter) =>
      withClusterLock(name, ctx.signal, async (signal) => {
        // Recorded first: a drift check of mk watch that comes while nodes stop leaves them alone.
        if (!(await loadStopped(name))) await saveStopped(name, { at: new Date().toISOString() });
        const spec = target.spec ? { spec: target.spec } : {};
        const plan = await planWholeCluster('stop', name, { driver, signal, ...spec });
        if (plan.steps.length === 0) {
          reporter.emit({ type: 'info', cluster: name, message: `cluster "${name}" is stopped already: no node runs` });
          return;
        }
        reporter.emit({ type: 'plan', plan });
        await executeWholeCluster(plan, { driver, reporter, signal, ...spec });
        reporter.emit({ type: 'info', cluster: name, message: `cluster "${name}" is stopped; mk start ${name} brings it back` });
      }),
    ),
  );
  return EXIT.ok;
}
