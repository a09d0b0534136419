// The cluster network step, run whenever nodes join or leave: every node gets the API endpoint name
// (control planes: themselves; workers: mk's load balancer, or the first control plane) and, with cni: auto, mk's built-in
// CNI (its podCIDR, routes to every other node's podCIDR). cni: <path> applies the user's manifest
// through the addons engine (owned by label, pruned like an addon); cni: none installs nothing.
import pLimit from 'p-limit';
import { expandNodes } from '../spec/nodes.js';
import { CNI_ADDON_NAME } from './plan.js';
import { listNodes } from './api.js';
import { adminAccess, handle, type BootstrapContext } from './context.js';
import { wantsLoadBalancer } from '../infrastructure/index.js';
import { BootstrapError } from './errors.js';
import { done, type StepResult } from '../plan.js';
import { applyNodeNetwork, type PeerRoute } from './network.js';
import { poll } from './node.js';
import { apiServerReady, waitTimeoutMs } from './wait.js';
import { capabilitiesOf } from '../drivers/capabilities.js';

/** How long the network step waits for every node to be registered with its podCIDR. */
const CIDR_TIMEOUT_MS = 90_000;

export async function applyClusterNetwork(ctx: BootstrapContext): Promise<StepResult> {
  const cni = ctx.cluster.spec.networking.cni;
  const builtin = cni === 'auto';
  const desired = new Set(expandNodes(ctx.cluster).map((n) => n.name));
  const observed = await ctx.driver.observe(ctx.cluster.metadata.name, ctx.signal);
  const members = observed.nodes.filter((n) => desired.has(n.name) && n.state === 'running' && n.address);
  // Workers reach the API through the endpoint the spec names (ssh), mk's load balancer when the
  // cluster has one, else through a control plane.
  const lb = wantsLoadBalancer(ctx.cluster) ? observed.loadBalancer : undefined;
  if (lb && (lb.state !== 'running' || !lb.address)) throw new BootstrapError(`the load balancer ${lb.name} is ${lb.state}${lb.address ? '' : ' and has no address'}; the next apply starts it`);
  const workerEndpoint = ctx.cluster.spec.networking.controlPlaneEndpoint ?? lb?.address;
  const admin = await adminAccess(ctx);
  // A control plane started again in this run (mk start) serves the API a while after it runs.
  await apiServerReady(admin, ctx.signal, waitTimeoutMs(ctx.cluster));

  // Every member, by name, must be registered and have its podCIDR (the controller-manager assigns it
  // shortly after registration): a node that registers a moment after the others still gets its routes.
  let cidrs = new Map<string, string>();
  const cidrTimeoutMs = CIDR_TIMEOUT_MS * capabilitiesOf(ctx.cluster).patience;
  if (builtin) {
    let unregistered: string[] = [];
    let noCidr: string[] = [];
    cidrs = await poll(
      async () => {
        const registered = new Map((await listNodes(admin.client)).map((k) => [k.metadata.name, k.spec?.podCIDR]));
        unregistered = members.filter((m) => !registered.has(m.name)).map((m) => m.name);
        noCidr = members.filter((m) => registered.has(m.name) && !registered.get(m.name)).map((m) => m.name);
        return unregistered.length === 0 && noCidr.length === 0 ? new Map(members.map((m) => [m.name, registered.get(m.name)!])) : undefined;
      },
      {
        timeoutMs: cidrTimeoutMs,
        intervalMs: 500,
        signal: ctx.signal,
        onTimeout: () =>
          new BootstrapError(
            [
              unregistered.length ? `${unregistered.join(', ')} never registered with the API server (is its kubelet running? its journal says why)` : '',
              noCidr.length ? `no podCIDR assigned to ${noCidr.join(', ')} (is the controller-manager running with --allocate-node-cidrs?)` : '',
            ]
              .filter(Boolean)
              .join('; ') + ` after ${cidrTimeoutMs / 1000} s`,
          ),
      },
    );
  }

  const limit = pLimit(4);
  await Promise.all(
    members.map((m) =>
      limit(async () => {
        const routes: PeerRoute[] | undefined = builtin
          ? members.filter((p) => p.name !== m.name && cidrs.has(p.name)).map((p) => ({ podCidr: cidrs.get(p.name)!, via: p.address! }))
          : undefined;
        const podCidr = builtin ? cidrs.get(m.name) : undefined;
        await applyNodeNetwork(
          handle(ctx, m.name),
          ctx.cluster.metadata.name,
          {
            apiAddress: m.role === 'control-plane' ? m.address! : (workerEndpoint ?? admin.node.address!),
            serviceCidr: ctx.cluster.spec.networking.serviceSubnet,
            ...(routes ? { routes } : {}),
            ...(podCidr ? { podCidr } : {}),
          },
          ctx.signal,
        );
      }),
    ),
  );

  if (builtin) return done(`mk CNI (ptp) on ${members.length} node${members.length === 1 ? '' : 's'}, ${cidrs.size} podCIDR route${cidrs.size === 1 ? '' : 's'}`);
  if (cni === 'none') return done(`endpoint name on ${members.length} node${members.length === 1 ? '' : 's'}; no CNI (cni: none)`);
  if (!ctx.specDir) throw new BootstrapError(`cni: ${cni} is a path relative to the spec file; run mk apply with -f FILE`);
  const { loadLocalManifests } = await import('../manifests/load.js');
  const { applyAddon } = await import('../manifests/apply.js');
  const objects = await loadLocalManifests(ctx.specDir, cni);
  const r = await applyAddon(admin.client, ctx.cluster, { name: CNI_ADDON_NAME }, objects, { version: 'user', signal: ctx.signal });
  return done(`CNI from ${cni}: ${r.objects.length} objects applied`);
}
