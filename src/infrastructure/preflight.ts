// Preflight of the machine the nodes share (Docker: this host's kernel). Before nodes come up, what
// kills them there is checked against what they need: inotify instances and watches (per user, and
// every node's processes run as one user), free disk where the engine keeps its data, the
// capabilities and the memory cgroup the engine must give them. Pure: observe read the facts.
import { capabilitiesOf } from '../drivers/capabilities.js';
import type { HostFacts, InotifyFacts } from '../drivers/types.js';
import { PlanError } from '../errors.js';
import type { StepSink } from '../phase/builder.js';
import { roleText } from '../spec/nodes.js';
import type { Cluster, DesiredNode, Role } from '../spec/types.js';
import type { InfraStep } from './steps.js';

/** What one node takes from the machine it runs on. */
export interface NodeCost {
  inotifyInstances: number;
  inotifyWatches: number;
  diskBytes: number;
}

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

/**
 * Measured on running nodes (Kubernetes v1.36.3, containerd, systemd; inotify descriptors held by the
 * node's processes and their watches, /var volume): a kubeadm control plane 29 instances, 249 watches,
 * 1.35 GB; a joined worker 16-17, 121-122, 1.2 GB; a node without Kubernetes 7, 22, 13 MB. The budget below
 * rounds up: the kubelet watches more as pods come. test/e2e/mk-inotify.test.ts measures it again.
 */
export const NODE_COST: { kubeadm: Record<Role, NodeCost>; none: NodeCost } = {
  kubeadm: {
    'control-plane': { inotifyInstances: 32, inotifyWatches: 512, diskBytes: 2 * GiB },
    worker: { inotifyInstances: 20, inotifyWatches: 256, diskBytes: 2 * GiB },
  },
  none: { inotifyInstances: 8, inotifyWatches: 32, diskBytes: 64 * MiB },
};

/** The values kind's known-issues page asks for. */
const RECOMMENDED_INOTIFY = { instances: 512, watches: 524_288 } as const;

/** The nodes a plan brings up. */
export interface NodesUp {
  /** New nodes (a container to create, a volume to make). */
  created: DesiredNode[];
  /** Existing nodes to start again. */
  started: DesiredNode[];
  /** Nodes removed and created again (the old one goes first: no more inotify or disk than now). */
  replaced: DesiredNode[];
}

export const countUp = (nodes: NodesUp): number => nodes.created.length + nodes.started.length + nodes.replaced.length;

/** What would kill the nodes (each with its fix), and what could not be checked. */
export interface Preflight {
  problems: string[];
  fixes: string[];
  warnings: string[];
}

const nodeCost = (cluster: Cluster, node: DesiredNode): NodeCost =>
  cluster.spec.bootstrap === 'kubeadm' ? NODE_COST.kubeadm[node.role] : NODE_COST.none;

const sum = (cluster: Cluster, nodes: DesiredNode[], key: keyof NodeCost): number => nodes.reduce((n, node) => n + nodeCost(cluster, node)[key], 0);

const gib = (bytes: number): string => `${(bytes / GiB).toFixed(1)} GiB`;

/** "3 nodes (1 control plane, 2 workers)". */
function nodesText(nodes: DesiredNode[]): string {
  const roles = (['control-plane', 'worker'] as const)
    .map((role): [Role, number] => [role, nodes.filter((n) => n.role === role).length])
    .filter(([, n]) => n > 0)
    .map(([role, n]) => `${n} ${roleText(role)}${n === 1 ? '' : 's'}`);
  return `${nodes.length} node${nodes.length === 1 ? '' : 's'} (${roles.join(', ')})`;
}

/** The smallest power of two that holds `n`, and never less than kind's value. */
const limitFor = (n: number, recommended: number): number => Math.max(recommended, 2 ** Math.ceil(Math.log2(Math.max(n, 1))));

function checkInotify(cluster: Cluster, facts: InotifyFacts, up: DesiredNode[], out: Preflight): void {
  const who = facts.uid === 0 ? "root's" : `uid ${facts.uid}'s`;
  const inUse = (n: number): string => (facts.unreadable > 0 ? `at least ${n}` : String(n));
  const short: string[] = [];
  const check = (what: 'instances' | 'watches', max: number, used: number, need: number, recommended: number): void => {
    const sysctl = `fs.inotify.max_user_${what}`;
    if (used + need > max) {
      out.problems.push(
        `inotify ${what}: ${inUse(used)} of ${max} (${sysctl}) are held by ${who} processes, and the ${nodesText(up)} to bring up need about ${need} more`,
      );
      short.push(`${sysctl}=${limitFor(used + need, recommended)}`);
    } else if (facts.unreadable > 0 && max < recommended) {
      out.warnings.push(
        `${sysctl} is ${max} (kind asks for ${recommended}) and ${facts.unreadable} of ${who} processes could not be read to count what they hold (run mk as root to count); ` +
          `if node containers exit with code 255, raise it: sysctl -w ${sysctl}=${recommended}`,
      );
    }
  };
  check('instances', facts.maxUserInstances, facts.instancesInUse, sum(cluster, up, 'inotifyInstances'), RECOMMENDED_INOTIFY.instances);
  check('watches', facts.maxUserWatches, facts.watchesInUse, sum(cluster, up, 'inotifyWatches'), RECOMMENDED_INOTIFY.watches);
  if (short.length === 0) return;
  out.fixes.push(
    [
      'raise the inotify limits now (as root):',
      ...short.map((s) => `    sysctl -w ${s}`),
      '  and keep them after a reboot:',
      ...short.map((s, i) => `    echo '${s.replace('=', ' = ')}' ${i === 0 ? '>' : '>>'} /etc/sysctl.d/99-mk-inotify.conf`),
    ].join('\n'),
  );
}

/**
 * What would kill the nodes the plan brings up on a machine with these facts. Only what the facts
 * say is checked: a part that could not be read (a remote engine's host) is not a problem.
 */
export function checkHost(cluster: Cluster, host: HostFacts, nodes: NodesUp): Preflight {
  const out: Preflight = { problems: [], fixes: [], warnings: [] };
  const up = [...nodes.created, ...nodes.started];
  if (countUp(nodes) === 0) return out;
  if (host.inotify && up.length > 0) checkInotify(cluster, host.inotify, up, out);

  const diskNeed = sum(cluster, nodes.created, 'diskBytes');
  if (host.disk && host.disk.freeBytes < diskNeed) {
    out.problems.push(`disk: ${gib(host.disk.freeBytes)} free in ${host.disk.path} (where the container engine keeps its data), and the ${nodesText(nodes.created)} to create need about ${gib(diskNeed)}`);
    out.fixes.push(`free space in ${host.disk.path}: "docker system prune" removes stopped containers, unused networks, dangling images and build cache; "mk delete NAME" removes a cluster you no longer need`);
  }

  const caps = capabilitiesOf(cluster);
  const lacking = (host.engineLacksCapabilities ?? []).filter((c) => !caps.droppedCapabilities.includes(c));
  if (lacking.length > 0) {
    out.problems.push(
      `capabilities: the container engine lacks ${lacking.join(', ')} (not in its capability bounding set), which ${caps.privileged ? 'privileged ' : ''}node containers ask for: they would not start ("unable to apply caps")`,
    );
    out.fixes.push(
      caps.privileged
        ? 'run the nodes unprivileged: set privileged: false in spec.driver.docker (every capability but CAP_SYS_RESOURCE), or run the engine where it has every capability'
        : `run the container engine where it has ${lacking.join(', ')} (outside the sandbox or container that withholds them)`,
    );
  }

  if (host.memoryCgroup === false && cluster.spec.bootstrap === 'kubeadm') {
    out.problems.push('cgroups: the container engine has no memory cgroup controller, which the kubelet needs');
    out.fixes.push('mount it (cgroup v1: cgroupfs-mount) or boot the kernel with cgroup_enable=memory, then restart the container engine');
  }
  return out;
}

/** The refusal: every problem, then every fix, then the override. */
function preflightRefusal(cluster: Cluster, nodes: NodesUp, found: Preflight): string {
  const count = countUp(nodes);
  const inotify = found.problems.some((p) => p.startsWith('inotify'))
    ? [
        'Node containers beyond the inotify limits exit with code 255 and no output right after they start, or their kubelet dies with "inotify_init: too many open files".',
      ]
    : [];
  return [
    `refusing to bring up ${count} node${count === 1 ? '' : 's'} of cluster ${cluster.metadata.name}: this host would kill them (preflight)`,
    ...found.problems.map((p) => `  - ${p}`),
    ...inotify,
    'To fix:',
    ...found.fixes.map((f) => `  ${f}`),
    'To bring them up anyway: --skip-preflight (see the README, "Troubleshooting").',
  ].join('\n');
}

/** Refuses the plan (PlanError) when the host would kill the nodes it brings up; with `skip`, says so in warnings instead. */
export function preflightHost(b: StepSink<InfraStep>, cluster: Cluster, host: HostFacts, nodes: NodesUp, skip: boolean): void {
  const found = checkHost(cluster, host, nodes);
  b.warnings.push(...found.warnings);
  if (found.problems.length === 0) return;
  if (!skip) throw new PlanError(preflightRefusal(cluster, nodes, found));
  b.warnings.push(...found.problems.map((p) => `preflight skipped (--skip-preflight): ${p}`));
}
