// Node networking mk manages itself: the API endpoint name in /etc/hosts, and mk's built-in CNI
// (cni: auto): ptp + host-local on each node's podCIDR, with a route on every node to every other
// node's podCIDR through that node's address (all nodes on one L2 network, as Docker's bridge gives).
// A constant script re-applies both at boot, before the kubelet, so a restarted node keeps working.
// The render functions are pure; applyNodeNetwork writes the files and runs the script.
import type { NodeHandle } from '../drivers/types.js';
import { controlPlaneEndpointName } from './config.js';

export const NETWORK_SCRIPT = '/usr/local/sbin/mk-node-network';
export const NETWORK_UNIT = '/etc/systemd/system/mk-node-network.service';
export const ROUTES_FILE = '/etc/mk/routes';
export const HOSTS_FILE = '/etc/mk/hosts';
/** The cluster's service CIDR: what no Service serves there is rejected instead of routed out. */
export const SERVICES_FILE = '/etc/mk/service-cidr';
const REJECT_COMMENT = 'mk: service addresses and ports nothing serves';
export const CNI_CONFLIST = '/etc/cni/net.d/10-mk.conflist';
/** Routing protocol number that marks mk's routes, so they can be flushed and rewritten as a set. */
export const ROUTE_PROTO = 211;
const HOSTS_MARK = '# mk';
export const NETWORK_UNIT_NAME = 'mk-node-network.service';

export const networkScript = `#!/bin/sh
# Written by mk. Restores mk's routes to the other nodes' pods and the API endpoint name in /etc/hosts;
# rejects traffic to the service CIDR that kube-proxy did not translate (a port no Service serves),
# which would otherwise leave by the default route (kube-proxy's nftables mode rejects it itself).
set -e
if [ -f ${ROUTES_FILE} ]; then ip -force -batch ${ROUTES_FILE}; fi
if [ -f ${SERVICES_FILE} ]; then
  cidr=$(cat ${SERVICES_FILE})
  for chain in FORWARD OUTPUT; do
    iptables -C "$chain" -d "$cidr" -m comment --comment '${REJECT_COMMENT}' -j REJECT 2>/dev/null ||
      iptables -I "$chain" -d "$cidr" -m comment --comment '${REJECT_COMMENT}' -j REJECT
  done
fi
if [ -f ${HOSTS_FILE} ]; then
  grep -v ' ${HOSTS_MARK}$' /etc/hosts >/run/mk-hosts || true
  cat /run/mk-hosts ${HOSTS_FILE} >/etc/hosts
  rm -f /run/mk-hosts
fi
`;

export const networkUnit = `[Unit]
Description=mk node networking (routes to other nodes' pods, API endpoint name)
Before=kubelet.service
After=network.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${NETWORK_SCRIPT}

[Install]
WantedBy=multi-user.target
`;

export interface PeerRoute {
  /** The other node's podCIDR. */
  podCidr: string;
  /** The other node's address on the cluster network. */
  via: string;
}

/** `ip -batch` lines: flush mk's routes, then one route per other node. Sorted, so the file is stable. */
export function renderRoutes(peers: readonly PeerRoute[]): string {
  const lines = [`route flush proto ${ROUTE_PROTO}`];
  for (const p of [...peers].sort((a, b) => a.podCidr.localeCompare(b.podCidr))) lines.push(`route replace ${p.podCidr} via ${p.via} proto ${ROUTE_PROTO}`);
  return lines.join('\n') + '\n';
}

/** A shell test that holds when the node restores mk's networking at boot and has the API endpoint name now. */
export const NODE_NETWORK_TEST = `systemctl is-enabled --quiet ${NETWORK_UNIT_NAME} && grep -q ' ${HOSTS_MARK}$' /etc/hosts`;

/** The /etc/hosts line for the cluster's API endpoint name. */
export function renderHosts(cluster: string, apiAddress: string): string {
  return `${apiAddress} ${controlPlaneEndpointName(cluster)} ${HOSTS_MARK}\n`;
}

/** mk's built-in CNI for one node: ptp veths, host-local addresses from the node's podCIDR, hostPort support. */
export function renderConflist(podCidr: string): string {
  const conf = {
    cniVersion: '0.4.0',
    name: 'mk',
    plugins: [
      { type: 'ptp', ipMasq: true, mtu: 1500, ipam: { type: 'host-local', ranges: [[{ subnet: podCidr }]], routes: [{ dst: '0.0.0.0/0' }] } },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
  return JSON.stringify(conf, null, 2) + '\n';
}

export interface NodeNetworkFiles {
  /** Address the API endpoint name resolves to on this node. */
  apiAddress: string;
  /** Built-in CNI only: routes to the other nodes' podCIDRs, and this node's podCIDR. */
  routes?: PeerRoute[];
  podCidr?: string;
  /** The cluster's service CIDR (spec.networking.serviceSubnet). */
  serviceCidr?: string;
}

/** Writes the script, unit, hosts (and with the built-in CNI the routes and conflist), then applies them. */
export async function applyNodeNetwork(node: NodeHandle, cluster: string, files: NodeNetworkFiles, signal?: AbortSignal): Promise<void> {
  const o = signal ? { signal } : {};
  await node.writeFile(NETWORK_SCRIPT, networkScript, 0o755, o);
  const unit = await node.exec(['cat', NETWORK_UNIT], o);
  if (unit.stdout !== networkUnit) {
    await node.writeFile(NETWORK_UNIT, networkUnit, 0o644, o);
    await node.run(['systemctl', 'daemon-reload'], o);
  }
  // Checked on its own: a run killed between writing the unit and enabling it left a node that
  // loses the API endpoint name at its next boot (the engine rewrites /etc/hosts on every start).
  const enabled = await node.exec(['systemctl', 'is-enabled', NETWORK_UNIT_NAME], o);
  if (enabled.stdout.trim() !== 'enabled') await node.run(['systemctl', 'enable', NETWORK_UNIT_NAME], o);
  await node.writeFile(HOSTS_FILE, renderHosts(cluster, files.apiAddress), 0o644, o);
  if (files.routes) await node.writeFile(ROUTES_FILE, renderRoutes(files.routes), 0o644, o);
  if (files.podCidr) await node.writeFile(CNI_CONFLIST, renderConflist(files.podCidr), 0o644, o);
  if (files.serviceCidr) await node.writeFile(SERVICES_FILE, `${files.serviceCidr}\n`, 0o644, o);
  await node.run([NETWORK_SCRIPT], o);
}

/** Undoes mk's node networking on a node leaving the cluster (the machine itself stays). */
export async function removeNodeNetwork(node: NodeHandle, signal?: AbortSignal): Promise<void> {
  const o = signal ? { signal } : {};
  await node.exec(['systemctl', 'disable', NETWORK_UNIT_NAME], o);
  await node.exec(['ip', 'route', 'flush', 'proto', String(ROUTE_PROTO)], o);
  await node.exec(['sh', '-c', `grep -v ' ${HOSTS_MARK}$' /etc/hosts >/run/mk-hosts; cat /run/mk-hosts >/etc/hosts; rm -f /run/mk-hosts`], o);
  const cidr = (await node.exec(['cat', SERVICES_FILE], o)).stdout.trim();
  if (cidr) for (const chain of ['FORWARD', 'OUTPUT']) await node.exec(['iptables', '-D', chain, '-d', cidr, '-m', 'comment', '--comment', REJECT_COMMENT, '-j', 'REJECT'], o);
  await node.exec(['rm', '-f', ROUTES_FILE, HOSTS_FILE, SERVICES_FILE, CNI_CONFLIST, NETWORK_UNIT, NETWORK_SCRIPT], o);
}
