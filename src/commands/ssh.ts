// mk ssh NAME [NODE] [-- CMD...]: a shell on a node, or CMD run there with its exit code, through the
// driver (docker exec, or ssh with mk's connection settings). The user's terminal is passed through: in
// raw mode with a pseudo-terminal in the node when stdin and stdout are both terminals, plain pipes
// otherwise. Output is the user's own session: nothing is redacted.
import type { ObservedNode, ShellTerminal } from '../drivers/types.js';
import { MkError } from '../errors.js';
import type { CommandContext } from './context.js';
import { withNamedCluster } from './target.js';

const collator = new Intl.Collator('en', { numeric: true });

/** NODE as given (its full name, or the part after "NAME-"), else the first control plane that runs. Pure. */
export function pickNode(cluster: string, nodes: readonly ObservedNode[], node: string | undefined): ObservedNode {
  const list = nodes.map((n) => `${n.name} (${n.state})`).join(', ');
  if (node !== undefined) {
    const found = nodes.find((n) => n.name === node) ?? nodes.find((n) => n.name === `${cluster}-${node}`);
    if (!found) throw new MkError(`cluster "${cluster}" has no node "${node}"; its nodes: ${list}`);
    if (found.state !== 'running') throw new MkError(`node ${found.name} is ${found.state}${found.state === 'stopped' ? `: mk start ${cluster} brings it back` : ''}`);
    return found;
  }
  const cps = nodes.filter((n) => n.role === 'control-plane').sort((a, b) => collator.compare(a.name, b.name));
  const first = cps.find((n) => n.state === 'running');
  if (!first) throw new MkError(`no control plane of cluster "${cluster}" runs (${list}); name a node, or mk start ${cluster}`);
  return first;
}

function terminal(): ShellTerminal | undefined {
  const { stdin, stdout } = process;
  if (!stdin.isTTY || !stdout.isTTY) return undefined;
  return {
    term: process.env.TERM || 'xterm',
    size: () => ({ columns: stdout.columns, rows: stdout.rows }),
    onResize: (listener) => {
      stdout.on('resize', listener);
      return () => stdout.off('resize', listener);
    },
  };
}

export async function ssh(ctx: CommandContext, name: string, node: string | undefined, argv: string[] | undefined): Promise<number> {
  return withNamedCluster(ctx, name, async ({ driver, observed }) => {
    const chosen = pickNode(name, observed.nodes, node);
    const tty = terminal();
    const { stdin } = process;
    if (tty) stdin.setRawMode(true);
    try {
      return await driver.shell(name, chosen.name, { ...(argv ? { argv } : {}), stdin, stdout: process.stdout, stderr: process.stderr, ...(tty ? { tty } : {}), signal: ctx.signal });
    } finally {
      if (tty) stdin.setRawMode(false);
      // Nothing reads the user's input any more: it must not keep mk running.
      stdin.pause();
    }
  });
}
