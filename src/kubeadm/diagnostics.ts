// What a bug report (mk logs) reads of a kubeadm cluster. Per node: journals, a few commands, and
// the files mk and kubeadm keep there that hold no secret (never /etc/kubernetes/*.conf, a key or a
// join config); every command an argv array of constants. Cluster-wide: Nodes, Pods and Events
// through the API server as admin, rendered as tables like `kubectl get -o wide`. The caller redacts
// what it writes.
import pLimit from 'p-limit';
import type { KubeClient, KubeEvent } from '../kube/index.js';
import type { NodeHandle, ReportFile } from '../drivers/types.js';
import type { KubeNode } from './api.js';
import { CNI_CONFLIST, HOSTS_FILE, ROUTES_FILE } from './network.js';
import { INIT_CONFIG, RUNTIMES, SENTINEL } from './node.js';
import { POD_RESOLV_CONF } from './resolv.js';

/** Lines of each journal a report keeps (the newest). */
export const JOURNAL_LINES = 10_000;
const journal = (...units: string[]): string[] => ['journalctl', '--no-pager', '-o', 'short-precise', '-n', String(JOURNAL_LINES), ...units.flatMap((u) => ['-u', u])];

/** The services of every runtime mk can pick (their sockets aside): the report keeps those with entries. */
export const RUNTIME_SERVICES: readonly string[] = [...new Set(Object.values(RUNTIMES).flatMap((r) => r.units))].filter((u) => !u.endsWith('.socket'));

export interface NodeCommand {
  /** File in the node's folder. */
  file: string;
  argv: readonly string[];
  /** Left out when the journal has no entries (runtimes the node does not use). */
  skipEmptyJournal?: boolean;
  /** Only on nodes that are containers: a host's whole journal is its owner's, not the cluster's. */
  containerNodesOnly?: boolean;
}

export const NODE_COMMANDS: readonly NodeCommand[] = [
  { file: 'kubelet.log', argv: journal('kubelet') },
  ...RUNTIME_SERVICES.map((u) => ({ file: `${u}.log`, argv: journal(u), skipEmptyJournal: true })),
  { file: 'mk-node-network.log', argv: journal('mk-node-network'), skipEmptyJournal: true },
  { file: 'journal.log', argv: journal(), containerNodesOnly: true },
  { file: 'services.txt', argv: ['systemctl', '--no-pager', '--full', 'status', 'kubelet', ...RUNTIME_SERVICES, 'mk-node-network'] },
  { file: 'kubelet-unit.txt', argv: ['systemctl', '--no-pager', 'cat', 'kubelet'] },
  { file: 'containers.txt', argv: ['crictl', 'ps', '-a'] },
  { file: 'ip-address.txt', argv: ['ip', 'address'] },
  { file: 'ip-route.txt', argv: ['ip', 'route'] },
];

/** Files copied from each node (under files/ in its folder, by their path). None holds a secret. */
export const NODE_FILES: readonly string[] = [
  SENTINEL,
  INIT_CONFIG,
  ROUTES_FILE,
  HOSTS_FILE,
  POD_RESOLV_CONF,
  CNI_CONFLIST,
  '/var/lib/kubelet/config.yaml',
  '/var/lib/kubelet/kubeadm-flags.env',
  '/etc/hosts',
  '/etc/resolv.conf',
];

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** What journalctl prints for a unit without entries. */
export function emptyJournal(stdout: string): boolean {
  return stdout.trim() === '-- No entries --';
}

export interface NodeFiles {
  /** Command outputs by file name; NODE_FILES under files/<path>. */
  files: ReportFile[];
  /** NODE_FILES not on the node. */
  absent: string[];
  /** Commands that could not be run, one line each. */
  problems: string[];
}

/** Runs NODE_COMMANDS and reads NODE_FILES on a running node; a command that fails is in its file (or in problems), never fatal. */
export async function readNodeFiles(node: NodeHandle, opts: { containerNode: boolean; signal?: AbortSignal }): Promise<NodeFiles> {
  const limit = pLimit(3);
  const o = opts.signal ? { signal: opts.signal } : {};
  const out: NodeFiles = { files: [], absent: [], problems: [] };
  const commands = NODE_COMMANDS.filter((c) => opts.containerNode || !c.containerNodesOnly);
  const attempt = (what: string, fn: () => Promise<void>) =>
    limit(async () => {
      try {
        await fn();
      } catch (err) {
        opts.signal?.throwIfAborted();
        out.problems.push(`${what}: ${message(err)}`);
      }
    });
  await Promise.all([
    ...commands.map((c) =>
      attempt(c.file, async () => {
        const r = await node.exec(c.argv, o);
        if (c.skipEmptyJournal && r.exitCode === 0 && emptyJournal(r.stdout)) return;
        const failed = r.exitCode === 0 ? '' : `${r.stdout && !r.stdout.endsWith('\n') ? '\n' : ''}[${c.argv[0]} exited ${r.exitCode}]\n${r.stderr}`;
        out.files.push({ name: c.file, content: r.stdout + failed });
      }),
    ),
    ...NODE_FILES.map((path) =>
      attempt(path, async () => {
        const r = await node.exec(['cat', '--', path], o);
        if (r.exitCode === 0) out.files.push({ name: `files${path}`, content: r.stdout });
        else out.absent.push(path);
      }),
    ),
  ]);
  const order = (name: string) => {
    const i = commands.findIndex((c) => c.file === name);
    return i >= 0 ? i : commands.length + NODE_FILES.findIndex((p) => name === `files${p}`);
  };
  out.files.sort((a, b) => order(a.name) - order(b.name));
  out.absent.sort((a, b) => NODE_FILES.indexOf(a) - NODE_FILES.indexOf(b));
  return out;
}

// ---- the API server ----------------------------------------------------------------------------

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

interface ReportNode extends KubeNode {
  metadata: KubeNode['metadata'] & { creationTimestamp?: string };
  spec?: KubeNode['spec'] & { taints?: Array<{ key: string; value?: string; effect: string }> };
  status?: {
    conditions?: Condition[];
    addresses?: Array<{ type: string; address: string }>;
    nodeInfo?: { kubeletVersion?: string; osImage?: string; kernelVersion?: string; containerRuntimeVersion?: string };
  };
}

interface ContainerState {
  waiting?: { reason?: string; message?: string };
  running?: object;
  terminated?: { reason?: string; exitCode?: number; signal?: number };
}

interface ContainerStatus {
  ready?: boolean;
  restartCount?: number;
  state?: ContainerState;
}

interface ReportPod {
  metadata: { name: string; namespace: string; creationTimestamp?: string; deletionTimestamp?: string };
  spec?: { nodeName?: string; containers?: unknown[] };
  status?: { phase?: string; reason?: string; podIP?: string; initContainerStatuses?: ContainerStatus[]; containerStatuses?: ContainerStatus[] };
}

interface ReportEvent extends KubeEvent {
  metadata?: KubeEvent['metadata'] & { namespace?: string };
  count?: number;
  firstTimestamp?: string;
  involvedObject?: KubeEvent['involvedObject'] & { namespace?: string };
}

/** Rows as columns padded to their widest cell. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

/** kubectl's way of saying how old: 45s, 12m, 5h, 3d. */
export function age(since: string | undefined, now: Date): string {
  if (!since) return '<unknown>';
  const s = Math.max(0, Math.floor((now.getTime() - Date.parse(since)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 180 * 60) return `${Math.floor(s / 60)}m`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

function nodeStatus(n: ReportNode): string {
  const ready = n.status?.conditions?.find((c) => c.type === 'Ready');
  const status = ready?.status === 'True' ? 'Ready' : ready?.status === 'False' ? 'NotReady' : 'Unknown';
  return n.spec?.unschedulable ? `${status},SchedulingDisabled` : status;
}

function nodeRoles(n: ReportNode): string {
  const prefix = 'node-role.kubernetes.io/';
  const roles = Object.keys(n.metadata.labels ?? {}).filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
  return roles.length ? roles.sort().join(',') : '<none>';
}

export function formatNodes(nodes: readonly ReportNode[], now: Date): string {
  const address = (n: ReportNode, type: string) => n.status?.addresses?.find((a) => a.type === type)?.address ?? '<none>';
  const rows = [
    ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION', 'INTERNAL-IP', 'EXTERNAL-IP', 'OS-IMAGE', 'KERNEL-VERSION', 'CONTAINER-RUNTIME'],
    ...nodes.map((n) => {
      const info = n.status?.nodeInfo;
      return [n.metadata.name, nodeStatus(n), nodeRoles(n), age(n.metadata.creationTimestamp, now), info?.kubeletVersion ?? '', address(n, 'InternalIP'), address(n, 'ExternalIP'), info?.osImage ?? '', info?.kernelVersion ?? '', info?.containerRuntimeVersion ?? ''];
    }),
  ];
  // What kubectl describe adds that matters most in a bug report: conditions, taints, podCIDR.
  const details = nodes.flatMap((n) => [
    '',
    `${n.metadata.name}: podCIDR ${n.spec?.podCIDR ?? '<none>'}; taints ${n.spec?.taints?.length ? n.spec.taints.map((t) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`).join(', ') : '<none>'}`,
    ...table([
      ['  TYPE', 'STATUS', 'SINCE', 'REASON', 'MESSAGE'],
      ...(n.status?.conditions ?? []).map((c) => [`  ${c.type}`, c.status, c.lastTransitionTime ?? '', c.reason ?? '', c.message ?? '']),
    ]).trimEnd().split('\n'),
  ]);
  return table(rows) + details.join('\n') + '\n';
}

/** A pod's STATUS column as kubectl computes it, in short: the reason of what holds it up, else its phase. */
export function podStatus(p: ReportPod): string {
  if (p.metadata.deletionTimestamp) return 'Terminating';
  const init = p.status?.initContainerStatuses ?? [];
  for (const [i, c] of init.entries()) {
    const t = c.state?.terminated;
    if (t && t.exitCode === 0) continue;
    if (t) return `Init:${t.reason ?? (t.signal ? `Signal:${t.signal}` : `ExitCode:${t.exitCode}`)}`;
    if (c.state?.waiting?.reason && c.state.waiting.reason !== 'PodInitializing') return `Init:${c.state.waiting.reason}`;
    return `Init:${i}/${init.length}`;
  }
  let reason = p.status?.reason ?? p.status?.phase ?? 'Unknown';
  for (const c of [...(p.status?.containerStatuses ?? [])].reverse()) {
    const s = c.state;
    if (s?.waiting?.reason) reason = s.waiting.reason;
    else if (s?.terminated) reason = s.terminated.reason ?? (s.terminated.signal ? `Signal:${s.terminated.signal}` : `ExitCode:${s.terminated.exitCode}`);
  }
  return reason;
}

export function formatPods(pods: readonly ReportPod[], now: Date): string {
  const rows = [
    ['NAMESPACE', 'NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP', 'NODE'],
    ...pods.map((p) => {
      const cs = p.status?.containerStatuses ?? [];
      const total = p.spec?.containers?.length ?? cs.length;
      return [
        p.metadata.namespace,
        p.metadata.name,
        `${cs.filter((c) => c.ready).length}/${total}`,
        podStatus(p),
        String(cs.reduce((sum, c) => sum + (c.restartCount ?? 0), 0)),
        age(p.metadata.creationTimestamp, now),
        p.status?.podIP ?? '<none>',
        p.spec?.nodeName ?? '<none>',
      ];
    }),
  ];
  return table(rows);
}

const eventTime = (e: ReportEvent): string | undefined => e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp;

export function formatEvents(events: readonly ReportEvent[], now: Date): string {
  const sorted = [...events].sort((a, b) => (eventTime(a) ?? '').localeCompare(eventTime(b) ?? ''));
  const rows = [
    ['NAMESPACE', 'LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'COUNT', 'MESSAGE'],
    ...sorted.map((e) => [
      e.metadata?.namespace ?? e.involvedObject?.namespace ?? '',
      `${age(eventTime(e), now)} (${eventTime(e) ?? '?'})`,
      e.type ?? '',
      e.reason ?? '',
      `${(e.involvedObject?.kind ?? '').toLowerCase()}/${e.involvedObject?.name ?? ''}`,
      String(e.count ?? 1),
      (e.message ?? '').replace(/\s*\n\s*/g, ' '),
    ]),
  ];
  return table(rows);
}

/** How long each read of the API server may take. */
const API_TIMEOUT_MS = 15_000;

/**
 * nodes.txt, pods.txt and events.txt of the cluster, each read on its own: one that fails is
 * named in `problems` and the others are still given.
 */
export async function clusterReport(client: KubeClient, opts: { now: Date; signal?: AbortSignal }): Promise<{ files: ReportFile[]; problems: string[] }> {
  const c = client.with({ timeoutMs: API_TIMEOUT_MS, retries: 1, ...(opts.signal ? { signal: opts.signal } : {}) });
  const reads: Array<{ name: string; path: string; render: (items: never[]) => string }> = [
    { name: 'nodes.txt', path: '/api/v1/nodes', render: (items: ReportNode[]) => formatNodes(items, opts.now) },
    { name: 'pods.txt', path: '/api/v1/pods', render: (items: ReportPod[]) => formatPods(items, opts.now) },
    { name: 'events.txt', path: '/api/v1/events', render: (items: ReportEvent[]) => formatEvents(items, opts.now) },
  ];
  const files: ReportFile[] = [];
  const problems: string[] = [];
  await Promise.all(
    reads.map(async (r) => {
      try {
        const list = await c.json<{ items: never[] }>('GET', r.path);
        files.push({ name: r.name, content: r.render(list.items) });
      } catch (err) {
        opts.signal?.throwIfAborted();
        problems.push(`${r.name}: GET ${r.path}: ${message(err)}`);
      }
    }),
  );
  files.sort((a, b) => reads.findIndex((r) => r.name === a.name) - reads.findIndex((r) => r.name === b.name));
  return { files, problems };
}
