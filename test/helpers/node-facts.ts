// For fakes of nodes (the memory driver's onExec): what mk's node-facts script prints on a node.
import type { ExecResult } from '../../src/drivers/types.js';
import { NODE_FACTS_SCRIPT } from '../../src/kubeadm/observe.js';

/** Whether argv is mk's node-facts script (kubeadm's sentinel, kubelet state, CNI config in one exec). */
export function isNodeFacts(argv: readonly string[]): boolean {
  return argv[0] === 'sh' && argv[2] === NODE_FACTS_SCRIPT;
}

/** What the script prints for a node with that sentinel (none: kubeadm never finished), kubelet state, CNI config and node network. */
export function nodeFacts(sentinel: string | undefined, opts: { kubelet?: string; cniConfig?: boolean; nodeNetwork?: boolean } = {}): ExecResult {
  const yes = (v: boolean | undefined) => (v === false ? '' : 'yes\n');
  const stdout = `${sentinel ? `${sentinel}\n` : ''}\n--mk--\n${opts.kubelet ?? 'active'}\n--mk--\n${yes(opts.cniConfig)}--mk--\n${yes(opts.nodeNetwork)}`;
  return { stdout, stderr: '', exitCode: 0 };
}
