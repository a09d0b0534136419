// What init and join share before kubeadm runs on a node: the node booted with its runtime (and the
// release binaries when it lacks Kubernetes), kubeadm of the spec's version, leftovers of an
// interrupted kubeadm reset, the kubelet's settings, and a resolv.conf that will not make CoreDNS loop.
import { capabilitiesOf } from '../drivers/capabilities.js';
import type { NodeHandle, ObservedNode } from '../drivers/types.js';
import { expandNodes } from '../spec/nodes.js';
import { installKubeBinaries } from './binaries.js';
import type { KubeletSettings, NodeFacts } from './config.js';
import { type BootstrapContext } from './context.js';
import { NodePrepareError } from './errors.js';
import { checkKubeadmVersion, hasKubeadmTraces, prepareNode, resetArgv, runtimeCgroupDriver, waitForKubeadmExit } from './node.js';
import { hostPodResolvConf, POD_RESOLV_CONF, upstreamNameservers } from './resolv.js';

export function nodeFacts(ctx: BootstrapContext, node: ObservedNode): NodeFacts {
  const desired = expandNodes(ctx.cluster).find((n) => n.name === node.name);
  return { name: node.name, role: node.role, address: node.address!, labels: desired?.labels ?? {}, taints: desired?.taints ?? [] };
}

/** Readies the node for kubeadm (see the top of this file); returns the kubelet settings, whether it reset the node, and what it installed. */
export async function readyForKubeadm(ctx: BootstrapContext, h: NodeHandle): Promise<{ kubelet: KubeletSettings; reset: boolean; installed: string[] }> {
  const { cri } = ctx.cluster.spec;
  const { containerNodes, nodeImage } = capabilitiesOf(ctx.cluster);
  const version = ctx.cluster.spec.kubernetesVersion;
  const installed = await prepareNode(h, cri, {
    ...(nodeImage ? { image: nodeImage } : {}),
    signal: ctx.signal,
    installKubernetes: () => installKubeBinaries(h, version, { signal: ctx.signal }),
  });
  await checkKubeadmVersion(h, version, ctx.signal);
  let reset = false;
  if (await waitForKubeadmExit(h, ctx.signal)) ctx.reporter.debug('waited for a kubeadm left running by an interrupted run', { node: h.name });
  if (await hasKubeadmTraces(h, ctx.signal)) {
    ctx.reporter.debug('kubeadm left files without finishing; resetting the node first', { node: h.name });
    await h.run(resetArgv(cri), { signal: ctx.signal });
    reset = true;
  }
  const kubelet: KubeletSettings = { cgroupDriver: await runtimeCgroupDriver(h, cri, ctx.signal) };
  if (containerNodes) {
    await checkOwnCgroups(h, ctx.signal);
    await h.writeFile(POD_RESOLV_CONF, await hostPodResolvConf(), 0o644, { signal: ctx.signal });
    kubelet.cgroupRoot = '/kubelet';
    kubelet.resolvConf = POD_RESOLV_CONF;
  } else {
    await checkHostResolvers(h, ctx.signal);
  }
  return { kubelet, reset, installed };
}

/**
 * cgroup v1 controllers a node container was left out of: in the host's cgroup namespace (nothing is
 * "/" in a private one) some controllers put it in a cgroup of its own, these leave it at the host's
 * root. Measured with podman 4.3 (runc, cgroupfs, its Docker API ignores a private cgroup namespace):
 * hugetlb, perf_event, net_cls,net_prio. Empty on cgroup v2 and when every controller nests it.
 */
export function hostRootCgroups(procCgroup: string): string[] {
  // "ID:CONTROLLERS:PATH"; v2's line has ID 0 and no controllers; name=systemd is no controller.
  const v1 = procCgroup
    .split('\n')
    .map((line) => /^(\d+):([^:=]+):(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null && m[1] !== '0')
    .map((m) => ({ controllers: m[2]!, path: m[3]! }));
  // A private namespace: every controller at its root, or in the /init.scope systemd (the node's
  // PID 1) moves itself to there in the controllers it manages (Docker on cgroup v1, cgroupfs).
  if (v1.every((c) => c.path === '/' || c.path === '/init.scope')) return [];
  const atRoot = v1.filter((c) => c.path === '/').map((c) => c.controllers);
  return atRoot.length < v1.length ? atRoot.sort() : [];
}

/**
 * The kubelet of a node container makes its cgroup root (/kubelet) in every controller; one where the
 * node has no cgroup of its own would be the host's, shared by every node, and the kubelet refuses it
 * ("has some missing paths"). Refuse before kubeadm waits minutes for a kubelet that cannot start.
 */
async function checkOwnCgroups(h: NodeHandle, signal: AbortSignal): Promise<void> {
  const r = await h.run(['cat', '/proc/1/cgroup'], { signal });
  const shared = hostRootCgroups(r.stdout);
  if (shared.length === 0) return;
  throw new NodePrepareError(
    `node ${h.name} has no cgroup of its own for ${shared.join(', ')}: its engine left it in the host's (podman on cgroup v1 does), so the kubelet cannot run there. Use a host with cgroup v2, or the docker driver`,
  );
}

/** Prints the resolv.conf the kubelet will use on a host (kubeadm picks systemd-resolved's upstream list when it runs), then its text. */
const KUBELET_RESOLV_SCRIPT = 'f=/etc/resolv.conf; if systemctl is-active --quiet systemd-resolved 2>/dev/null; then f=/run/systemd/resolve/resolv.conf; fi; echo "$f"; cat -- "$f" 2>/dev/null; exit 0';

/**
 * Hosts (ssh): the kubelet hands its resolv.conf to CoreDNS, which forwards there. A file with only
 * loopback nameservers (Docker's 127.0.0.11, a local dnsmasq) makes CoreDNS forward to itself, detect
 * a loop and exit, so the cluster would never become usable: refuse before kubeadm runs, naming the file.
 */
async function checkHostResolvers(h: NodeHandle, signal: AbortSignal): Promise<void> {
  const r = await h.run(['sh', '-c', KUBELET_RESOLV_SCRIPT], { signal });
  const [file = '/etc/resolv.conf', ...rest] = r.stdout.split('\n');
  const problem = kubeletResolvProblem(h.name, file, rest.join('\n'));
  if (problem) throw new NodePrepareError(problem);
}

/** Why a host's kubelet resolv.conf would make CoreDNS loop, or undefined when it names a usable resolver. Pure. */
export function kubeletResolvProblem(node: string, file: string, text: string): string | undefined {
  if (upstreamNameservers(text).length > 0) return undefined;
  const listed = [...text.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1]!);
  return (
    `node ${node}: ${file} lists ${listed.length > 0 ? `only loopback nameservers (${listed.join(', ')})` : 'no nameserver'}; the kubelet hands that file to CoreDNS, ` +
    'which would forward queries to itself, detect a loop and exit. List a reachable DNS resolver there (or run systemd-resolved, whose upstream list kubeadm then uses).'
  );
}

/** ", installed kubeadm, kubelet from the release" for step details. */
export function installedNote(installed: readonly string[]): string {
  return installed.length > 0 ? `, installed ${installed.join(', ')} from the release` : '';
}
