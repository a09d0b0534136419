// etcd membership of a cluster with more than one control plane, through etcd's JSON API on a
// running control plane (curl with kubeadm's etcd health-check client certificate, from the node:
// etcd listens on the node, not on this machine). What the members are, and the removal of a member
// whose control plane is gone (its container removed, its host lost) so it can join again and quorum
// counts only members that exist. Parsing and the quorum rules are pure.
import type { EtcdMember, NodeHandle, ObservedEtcd } from '../drivers/types.js';
import { deleteNodeObject } from './api.js';
import { adminAccess, handle, type BootstrapContext } from './context.js';
import { BootstrapError } from './errors.js';
import { done, skipped, type StepResult } from '../plan.js';

const PKI = '/etc/kubernetes/pki/etcd';

/** curl argv for one call of etcd's JSON API on the node's own member. */
export function etcdCallArgv(path: string, body: object, timeoutS = 5): string[] {
  return [
    'curl', '-sS', '--max-time', String(timeoutS),
    '--cacert', `${PKI}/ca.crt`, '--cert', `${PKI}/healthcheck-client.crt`, '--key', `${PKI}/healthcheck-client.key`,
    '-H', 'Content-Type: application/json', '-X', 'POST', '-d', JSON.stringify(body),
    `https://127.0.0.1:2379${path}`,
  ];
}

interface MemberListJson {
  members?: Array<{ ID?: string | number; name?: string; peerURLs?: string[]; isLearner?: boolean }>;
  error?: string;
  message?: string;
}

/** etcd's member list answer -> members (voting ones; learners are not part of quorum). */
export function parseMembers(stdout: string): EtcdMember[] {
  let parsed: MemberListJson;
  try {
    parsed = JSON.parse(stdout) as MemberListJson;
  } catch {
    throw new BootstrapError(`etcd answered what is not JSON: ${stdout.slice(0, 200)}`);
  }
  if (!parsed.members) throw new BootstrapError(`etcd did not list its members: ${parsed.message ?? parsed.error ?? stdout.slice(0, 200)}`);
  return parsed.members
    .filter((m) => !m.isLearner && m.ID !== undefined)
    .map((m) => ({ id: String(m.ID), name: m.name ?? '', peerUrls: m.peerURLs ?? [] }))
    .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}

/** The members as the control plane `node` sees them; an error (no quorum, no curl) is said, not thrown. */
export async function readEtcdMembers(node: NodeHandle, signal?: AbortSignal): Promise<ObservedEtcd> {
  const r = await node.exec(etcdCallArgv('/v3/cluster/member/list', {}), signal ? { signal } : {});
  if (r.exitCode !== 0) return { members: [], error: `etcd on ${node.name} did not answer (${(r.stderr || r.stdout).trim().slice(0, 200) || `curl exit ${r.exitCode}`})` };
  try {
    return { members: parseMembers(r.stdout) };
  } catch (err) {
    return { members: [], error: (err as Error).message };
  }
}

/**
 * etcd.forget: the member of a control plane that is gone is removed through a control plane that
 * runs, and its Node object is deleted (its pods are rescheduled). Skips what is already done.
 */
export async function forgetMember(ctx: BootstrapContext, name: string, id: string): Promise<StepResult> {
  const admin = await adminAccess(ctx, name ? [name] : []);
  const h = handle(ctx, admin.node.name);
  const view = await readEtcdMembers(h, ctx.signal);
  if (view.error) throw new BootstrapError(view.error);
  const member = view.members.find((m) => m.id === id);
  const parts: string[] = [];
  if (member) {
    const r = await h.exec(etcdCallArgv('/v3/cluster/member/remove', { ID: member.id }, 15), { signal: ctx.signal });
    if (r.exitCode !== 0 || /"(error|message)"/.test(r.stdout)) throw new BootstrapError(`etcd refused to remove member ${name || '(unnamed)'} (${member.id}): ${(r.stdout || r.stderr).trim().slice(0, 300)}`);
    parts.push(`etcd member ${member.id} removed through ${admin.node.name}, ${view.members.length - 1} left`);
  }
  if (name && (await deleteNodeObject(admin.client, name))) parts.push('Node object deleted');
  return parts.length > 0 ? done(parts.join(', ')) : skipped('not an etcd member any more');
}
