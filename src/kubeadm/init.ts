// kubeadm init on the first control plane. Skips when the sentinel says it ran; a half-done init
// (files but no sentinel, e.g. a killed run) is reset and run again.
import type { NodeHandle, ObservedNode } from '../drivers/types.js';
import { deleteKubeadmInitTokens } from './api.js';
import { renderInitConfig, type KubeletSettings, type NodeFacts } from './config.js';
import { adminAccess, done, handle, opts, runningNode, seconds, skipped, type BootstrapContext, type Outcome } from './context.js';
import { installKubeBinaries } from './binaries.js';
import { applyNodeNetwork } from './network.js';
import { checkKubeadmVersion, waitForKubeadmExit, hasKubeadmTraces, INIT_CONFIG, initArgv, NodePrepareError, prepareNode, readSentinel, resetArgv, runtimeCgroupDriver, writeSentinel } from './node.js';
import { hostPodResolvConf, POD_RESOLV_CONF, upstreamNameservers } from './resolv.js';
import { expandNodes } from '../spec/nodes.js';

export function nodeFacts(ctx: BootstrapContext, node: ObservedNode): NodeFacts {
  const desired = expandNodes(ctx.cluster).find((n) => n.name === node.name);
  return { name: node.name, role: node.role, address: node.address!, labels: desired?.labels ?? {}, taints: desired?.taints ?? [] };
}

/**
 * Everything init and join share before kubeadm runs: the node booted with its runtime, leftovers of
 * an interrupted kubeadm reset, and (nodes in containers) the pods' resolv.conf. Returns the kubelet
 * settings and whether it had to reset.
 */
export async function readyForKubeadm(ctx: BootstrapContext, h: NodeHandle): Promise<{ kubelet: KubeletSettings; reset: boolean; installed: string[] }> {
  const { cri } = ctx.cluster.spec;
  const docker = ctx.cluster.spec.driver.name === 'docker' ? ctx.cluster.spec.driver.docker : undefined;
  const version = ctx.cluster.spec.kubernetesVersion;
  const installed = await prepareNode(h, cri, {
    ...(docker ? { image: docker.image } : {}),
    signal: ctx.signal,
    installKubernetes: () => installKubeBinaries(h, version, { signal: ctx.signal }),
  });

  await checkKubeadmVersion(h, version, ctx.signal);
  let reset = false;
  if (await waitForKubeadmExit(h, ctx.signal)) ctx.reporter.debug('waited for a kubeadm left running by an interrupted run', { node: h.name });
  if (await hasKubeadmTraces(h, ctx.signal)) {
    ctx.reporter.debug('kubeadm left files without finishing; resetting the node first', { node: h.name });
    await h.run(resetArgv(cri), opts(ctx));
    reset = true;
  }
  const kubelet: KubeletSettings = { cgroupDriver: await runtimeCgroupDriver(h, cri, ctx.signal) };
  if (docker) {
    await h.writeFile(POD_RESOLV_CONF, await hostPodResolvConf(), 0o644, opts(ctx));
    kubelet.cgroupRoot = '/kubelet';
    kubelet.resolvConf = POD_RESOLV_CONF;
  } else {
    await checkHostResolvers(h, ctx.signal);
  }
  return { kubelet, reset, installed };
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

export async function kubeadmInit(ctx: BootstrapContext, name: string): Promise<Outcome> {
  const node = await runningNode(ctx, name);
  const h = handle(ctx, name);
  if (await readSentinel(h, ctx.signal)) return skipped('kubeadm already ran on this node');
  const { kubelet, reset, installed } = await readyForKubeadm(ctx, h);
  await applyNodeNetwork(h, ctx.cluster.metadata.name, { apiAddress: node.address! }, ctx.signal);
  await h.writeFile(INIT_CONFIG, renderInitConfig({ cluster: ctx.cluster, node: nodeFacts(ctx, node), kubelet }), 0o600, opts(ctx));
  const t0 = Date.now();
  await h.run(initArgv(), opts(ctx));
  const initMs = Date.now() - t0;
  // kubeadm init mints a 24 h token; mk mints one per join instead.
  const admin = await adminAccess(ctx);
  const removed = await deleteKubeadmInitTokens(admin.kc);
  ctx.reporter.debug('deleted kubeadm init bootstrap tokens', { count: removed });
  await writeSentinel(h, { cluster: ctx.cluster.metadata.name, role: 'control-plane', at: new Date().toISOString(), kubernetesVersion: ctx.cluster.spec.kubernetesVersion }, ctx.signal);
  return done(`kubeadm init ${seconds(initMs)}${installedNote(installed)}${reset ? ' (after resetting a half-done init)' : ''}`);
}
