// mk start NAME [-f FILE]: an apply of the spec mk knows the cluster by (the last applied from this
// machine, or FILE): it starts the stopped nodes (same containers, volumes, addresses and API port),
// skips the joins kubeadm finished, puts the cluster network back and waits until every node is Ready.
import { EXIT, MkError } from '../errors.js';
import { loadSpecs } from '../spec/load.js';
import type { LoadedCluster } from '../spec/types.js';
import { loadLastApplied, loadLastRun } from '../state.js';
import { applyOne, type ApplyOptions } from './apply.js';
import type { CommandContext } from './context.js';

async function specFor(ctx: CommandContext, name: string, file: string | undefined): Promise<LoadedCluster> {
  if (file) {
    const specs = await loadSpecs(file, { stdin: ctx.stdin });
    const spec = specs.find((s) => s.cluster.metadata.name === name);
    if (!spec) throw new MkError(`${file} does not describe cluster "${name}" (it has ${specs.map((s) => `"${s.cluster.metadata.name}"`).join(', ')})`);
    return spec;
  }
  const applied = await loadLastApplied(name);
  if (!applied) throw new MkError(`cluster "${name}" was never applied from this machine, so mk has no spec to start it with: mk start ${name} -f FILE`);
  // The file it was applied from, when known: paths in the spec (a CNI manifest) are relative to it.
  const run = await loadLastRun(name);
  return { file: run?.file ?? '-', cluster: applied, references: [] };
}

export async function start(ctx: CommandContext, name: string, opts: ApplyOptions & { file?: string }): Promise<number> {
  const spec = await specFor(ctx, name, opts.file);
  const outcome = await applyOne(ctx, spec, opts);
  return outcome === 'waiting' ? EXIT.waiting : EXIT.ok;
}
