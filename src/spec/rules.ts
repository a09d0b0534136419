// Semantic rules the JSON Schema cannot express. They run on the raw input, which may be
// schema-invalid: every rule checks the shape it needs and skips what the schema already reports.
// Pure; problems carry data paths, load.ts turns them into file positions.
import { DEFAULT_POD_SUBNET, DEFAULT_POOLS, DEFAULT_SERVICE_SUBNET } from './defaults.js';
import { checkDns1123Label, checkLabelValue, checkLoginName, checkQualifiedName, quote, suggest } from './names.js';
import { isIP } from 'node:net';
import { isHostAddress, overlaps, parseAddressRange, parseCidr } from '../net.js';
import type { Cidr } from '../net.js';
import { checkImageRef, normalizeImageRef } from './image-refs.js';
import { nodeName } from './nodes.js';
import { joinPath } from './paths.js';
import { CATALOG } from '../catalog/index.js';
import { patternProblems } from '../catalog/options.js';
import { KUBERNETES_VERSION_PATTERN, unsupportedVersion } from './versions.js';

export interface Issue {
  path: string;
  message: string;
  /** Point at the key (unknown or misplaced field) rather than the value. */
  at?: 'key' | 'value';
}

export const LIMITS = {
  clusterName: 32,
  poolName: 20,
  nodeName: 63,
  addonName: 63,
  controlPlanesMin: 1,
  controlPlanesMax: 7,
  workersPerPool: 100,
  totalNodes: 100,
} as const;

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
}
function arr(v: unknown): unknown[] | undefined {
  return Array.isArray(v) ? v : undefined;
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
function int(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) ? v : undefined;
}

function hasControlChars(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

function checkLabels(labels: unknown, path: string, out: Issue[]): void {
  const o = obj(labels);
  if (!o) return;
  for (const [key, value] of Object.entries(o)) {
    const p = joinPath(path, key);
    const keyProblem = checkQualifiedName(key);
    if (keyProblem) out.push({ path: p, message: `label ${keyProblem}`, at: 'key' });
    if (typeof value === 'string') {
      const valueProblem = checkLabelValue(value);
      if (valueProblem) out.push({ path: p, message: `label ${valueProblem}` });
    }
  }
}

function checkTaints(taints: unknown, path: string, out: Issue[]): void {
  arr(taints)?.forEach((t, i) => {
    const o = obj(t);
    const key = str(o?.key);
    const value = str(o?.value);
    const p = joinPath(path, i);
    if (key !== undefined) {
      const problem = checkQualifiedName(key);
      if (problem) out.push({ path: joinPath(p, 'key'), message: `taint ${problem}` });
    }
    if (value !== undefined) {
      const problem = checkLabelValue(value);
      if (problem) out.push({ path: joinPath(p, 'value'), message: `taint ${problem}` });
    }
  });
}

function checkUser(value: unknown, path: string, out: Issue[]): void {
  const user = str(value);
  if (user === undefined) return;
  const problem = checkLoginName(user);
  if (problem) out.push({ path, message: problem });
}

function checkAddress(value: unknown, path: string, out: Issue[]): void {
  const address = str(value);
  if (address === undefined) return;
  if (!isHostAddress(address)) {
    out.push({ path, message: `${quote(address)} is not an IP address or hostname` });
  }
}

/** A path relative to the spec file: not absolute, no URL, no control characters, no `..` segment. */
function checkRelativePath(value: string, path: string, what: string, out: Issue[]): boolean {
  if (value.trim() === '') {
    out.push({ path, message: `${what} must not be empty` });
  } else if (hasControlChars(value)) {
    out.push({ path, message: `${what} ${quote(value)} contains control characters` });
  } else if (value.startsWith('/') || value.startsWith('\\') || /^[A-Za-z]:[\\/]/.test(value) || value.startsWith('~')) {
    out.push({ path, message: `${what} ${quote(value)} must be relative to the spec file, not absolute` });
  } else if (/^[a-z][a-z0-9+.-]*:/i.test(value)) {
    out.push({ path, message: `${what} ${quote(value)} must be a relative path` });
  } else if (value.split(/[\\/]/).includes('..')) {
    // Even a/../b: when a is a symlink, the system resolves it from where the link points.
    out.push({ path, message: `${what} ${quote(value)} must not contain "..": it names a file in the spec's folder or below` });
  } else {
    return true;
  }
  return false;
}

function checkMetadata(root: Obj, out: Issue[]): string | undefined {
  const meta = obj(root.metadata);
  const name = str(meta?.name);
  if (name !== undefined) {
    const problem = checkDns1123Label(name, LIMITS.clusterName);
    if (problem) out.push({ path: 'metadata.name', message: `cluster name ${problem}` });
  }
  checkLabels(meta?.labels, 'metadata.labels', out);
  return name;
}

type DriverName = 'docker' | 'podman' | 'ssh' | 'qemu';
const DRIVER_NAMES: readonly DriverName[] = ['docker', 'podman', 'ssh', 'qemu'];
/** Drivers whose pools set a count of nodes mk makes (containers, VMs). */
const COUNTED: readonly DriverName[] = ['docker', 'podman', 'qemu'];

function checkDriver(spec: Obj, out: Issue[]): DriverName | undefined {
  const driver = obj(spec.driver);
  const rawName = driver?.name;
  const name = rawName === undefined ? 'docker' : DRIVER_NAMES.find((n) => n === rawName);
  if (!driver) return name;
  for (const other of DRIVER_NAMES) {
    if (name === undefined || other === name || driver[other] === undefined) continue;
    const why = rawName === undefined ? 'the driver is docker (the default; set driver.name)' : `the driver is ${name}`;
    out.push({ path: joinPath('spec.driver', other), message: `${other} options given but ${why}`, at: 'key' });
  }
  checkContainerEngine(obj(driver.docker), 'spec.driver.docker', 'Docker', out);
  checkContainerEngine(obj(driver.podman), 'spec.driver.podman', 'Podman', out);
  const image = str(obj(driver.qemu)?.image);
  if (image !== undefined && image !== '' && !image.startsWith('/')) {
    out.push({ path: 'spec.driver.qemu.image', message: `${quote(image)} is not an absolute path (the folder npm run vm-image writes)` });
  }
  const ssh = obj(driver.ssh);
  if (ssh) {
    checkUser(ssh.user, 'spec.driver.ssh.user', out);
    const bastion = obj(ssh.bastion);
    if (bastion) {
      checkAddress(bastion.host, 'spec.driver.ssh.bastion.host', out);
      checkUser(bastion.user, 'spec.driver.ssh.bastion.user', out);
    }
    for (const [key, value] of Object.entries(obj(ssh.hostKeys) ?? {})) {
      const p = joinPath('spec.driver.ssh.hostKeys', key);
      if (!isHostAddress(key)) out.push({ path: p, message: `${quote(key)} is not an IP address or hostname`, at: 'key' });
      if (typeof value === 'string' && !/^SHA256:[A-Za-z0-9+/]{43}=?$/.test(value)) {
        out.push({ path: p, message: `${quote(value)} is not a SHA256 host-key fingerprint (SHA256:..., as printed by ssh-keygen -lf)` });
      }
    }
  }
  return name;
}

/** The options of a driver whose nodes are containers of an engine with the Docker API (docker, podman). */
function checkContainerEngine(o: Obj | undefined, at: string, engine: string, out: Issue[]): void {
  if (!o) return;
  const image = str(o.image);
  if (image !== undefined && image !== '' && (/\s/.test(image) || image.startsWith('-'))) {
    out.push({ path: `${at}.image`, message: `${quote(image)} is not an image reference` });
  }
  const network = str(o.network);
  if (network !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(network)) {
    out.push({ path: `${at}.network`, message: `${quote(network)} is not a valid ${engine} network name` });
  }
  const context = str(o.context);
  if (context !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.+-]*$/.test(context)) {
    out.push({ path: `${at}.context`, message: `${quote(context)} is not a valid Docker context name` });
  }
  const host = str(o.host);
  if (host !== undefined && (!/^(unix|tcp|ssh|npipe|http|https):\/\/\S+$/.test(host) || hasControlChars(host))) {
    out.push({ path: `${at}.host`, message: `${quote(host)} must be a ${engine} endpoint URL (unix://, tcp://, ssh://${engine === 'Docker' ? ', npipe://' : ''})` });
  }
}

function checkNodes(spec: Obj, cluster: string | undefined, driver: DriverName | undefined, out: Issue[]): void {
  const given = arr(spec.nodes);
  const pools = spec.nodes === undefined ? (DEFAULT_POOLS as unknown[]) : given;
  if (!pools) return;
  const poolNames = new Map<string, number>();
  // node name -> where it comes from (a path), to report collisions
  const nodeNames = new Map<string, string>();
  let controlPlanes = 0;
  let total = 0;
  let countsKnown = true;
  const explicitNames: { name: string; path: string }[] = [];
  // address:port -> first host path, so one machine is not listed twice
  const addresses = new Map<string, string>();

  pools.forEach((raw, i) => {
    const pool = obj(raw);
    if (!pool) return;
    const p = joinPath('spec.nodes', i);
    const name = str(pool.name);
    let nameOk = false;
    if (name !== undefined) {
      const problem = checkDns1123Label(name, LIMITS.poolName);
      if (problem) out.push({ path: joinPath(p, 'name'), message: `pool name ${problem}` });
      else nameOk = true;
      const first = poolNames.get(name);
      if (first !== undefined) {
        out.push({ path: joinPath(p, 'name'), message: `pool name "${name}" is already used by spec.nodes[${first}]` });
      } else poolNames.set(name, i);
    }

    const hasCount = pool.count !== undefined;
    const hosts = arr(pool.hosts);
    if (driver !== undefined && COUNTED.includes(driver)) {
      if (pool.hosts !== undefined) out.push({ path: joinPath(p, 'hosts'), message: `hosts are for the ssh driver; ${driver} pools set count`, at: 'key' });
      if (!hasCount) out.push({ path: p, message: `${driver} pools need a count` });
    } else if (driver === 'ssh') {
      if (hasCount) out.push({ path: joinPath(p, 'count'), message: 'count is for the docker, podman and qemu drivers; ssh pools list hosts', at: 'key' });
      if (pool.hosts === undefined) out.push({ path: p, message: 'ssh pools need hosts' });
    }

    const size = driver === 'ssh' ? hosts?.length : int(pool.count);
    if (size === undefined) countsKnown = false;
    else {
      total += size;
      if (pool.role === 'control-plane') controlPlanes += size;
      else if (pool.role === 'worker' && size > LIMITS.workersPerPool) {
        out.push({ path: joinPath(p, driver === 'ssh' ? 'hosts' : 'count'), message: `a worker pool has at most ${LIMITS.workersPerPool} nodes, got ${size}` });
      }
    }
    if (pool.role !== 'control-plane' && pool.role !== 'worker') countsKnown = false;

    checkLabels(pool.labels, joinPath(p, 'labels'), out);
    checkTaints(pool.taints, joinPath(p, 'taints'), out);

    const clusterOk = cluster !== undefined && checkDns1123Label(cluster, LIMITS.clusterName) === undefined;
    hosts?.forEach((rawHost, j) => {
      const host = obj(rawHost);
      if (!host) return;
      const hp = joinPath(joinPath(p, 'hosts'), j);
      checkAddress(host.address, joinPath(hp, 'address'), out);
      const address = str(host.address);
      if (address !== undefined) {
        const key = `${address.toLowerCase()}:${String(host.port ?? '')}`;
        const first = addresses.get(key);
        if (first !== undefined) out.push({ path: joinPath(hp, 'address'), message: `host ${quote(address)} is already listed at ${first}` });
        else addresses.set(key, hp);
      }
      checkUser(host.user, joinPath(hp, 'user'), out);
      checkLabels(host.labels, joinPath(hp, 'labels'), out);
      checkTaints(host.taints, joinPath(hp, 'taints'), out);
      const hostName = str(host.name);
      if (hostName !== undefined) {
        const problem = checkDns1123Label(hostName, LIMITS.nodeName);
        if (problem) out.push({ path: joinPath(hp, 'name'), message: `node name ${problem}` });
        else explicitNames.push({ name: hostName, path: joinPath(hp, 'name') });
      } else if (clusterOk && nameOk && name) {
        nodeNames.set(nodeName(cluster, name, j + 1), hp);
      }
    });
    if (driver !== 'ssh' && clusterOk && nameOk && name) {
      const count = int(pool.count) ?? 0;
      for (let n = 1; n <= Math.min(count, LIMITS.totalNodes); n++) nodeNames.set(nodeName(cluster, name, n), p);
    }
  });

  for (const [generated, where] of nodeNames) {
    if (generated.length > LIMITS.nodeName) {
      out.push({ path: where, message: `node name "${generated}" is ${generated.length} characters long; at most ${LIMITS.nodeName} are allowed (shorten the cluster or pool name)` });
      break;
    }
  }
  const explicit = new Map<string, string>();
  for (const { name, path } of explicitNames) {
    const generatedFor = nodeNames.get(name);
    const earlier = explicit.get(name);
    if (earlier !== undefined) out.push({ path, message: `node name "${name}" is already used by ${earlier}` });
    else if (generatedFor !== undefined) out.push({ path, message: `node name "${name}" is also the generated name of ${generatedFor}` });
    else explicit.set(name, path);
  }

  if (countsKnown && driver !== undefined) {
    if (controlPlanes < LIMITS.controlPlanesMin) {
      out.push({ path: 'spec.nodes', message: 'the cluster needs at least one control-plane node' });
    } else if (controlPlanes > LIMITS.controlPlanesMax) {
      out.push({ path: 'spec.nodes', message: `at most ${LIMITS.controlPlanesMax} control-plane nodes are supported, got ${controlPlanes}` });
    }
    if (total > LIMITS.totalNodes) {
      out.push({ path: 'spec.nodes', message: `at most ${LIMITS.totalNodes} nodes in total are supported, got ${total}` });
    }
  }
}

function checkCidr(value: unknown, path: string, out: Issue[]): Cidr | undefined {
  const text = str(value);
  if (text === undefined) return undefined;
  const r = parseCidr(text);
  if (!r.ok) {
    out.push({ path, message: r.reason });
    return undefined;
  }
  return r.cidr;
}

function checkNetworking(spec: Obj, out: Issue[]): void {
  const net = obj(spec.networking) ?? {};
  const driver = obj(spec.driver);
  const engine = driver?.name === 'podman' || driver?.name === 'qemu' ? driver.name : 'docker';
  const container = obj(driver?.[engine]);
  const subnet = (value: unknown, fallback: string | undefined, path: string): Subnet => {
    if (value === undefined) return { path, text: fallback ?? '', given: false, cidr: fallback ? defaultCidr(fallback) : undefined };
    return { path, text: String(value), given: true, cidr: checkCidr(value, path, out) };
  };
  const subnets = [
    subnet(net.podSubnet, DEFAULT_POD_SUBNET, 'spec.networking.podSubnet'),
    subnet(net.serviceSubnet, DEFAULT_SERVICE_SUBNET, 'spec.networking.serviceSubnet'),
    subnet(container?.subnet, undefined, `spec.driver.${engine}.subnet`),
  ];
  for (let i = 0; i < subnets.length; i++) {
    for (let j = 0; j < i; j++) {
      // Report on the later one the user wrote; mention the other's value when it is a default.
      const [a, b] = subnets[i]!.given ? [subnets[i]!, subnets[j]!] : [subnets[j]!, subnets[i]!];
      if (a.cidr && b.cidr && overlaps(a.cidr, b.cidr)) {
        out.push({ path: a.path, message: `${a.text} overlaps ${b.path} (${b.text}${b.given ? '' : ', the default'})` });
      }
    }
  }
  const cni = str(net.cni);
  if (cni !== undefined && cni !== 'auto' && cni !== 'none') {
    checkRelativePath(cni, 'spec.networking.cni', 'cni (auto, none or a manifest path)', out);
  }
  const endpoint = str(net.controlPlaneEndpoint);
  if (endpoint !== undefined) {
    const path = 'spec.networking.controlPlaneEndpoint';
    if (driver?.name === 'qemu') out.push({ path, message: 'controlPlaneEndpoint is for the ssh driver; qemu clusters reach the API through the first control plane', at: 'key' });
    else if (driver?.name !== 'ssh') out.push({ path, message: `controlPlaneEndpoint is for the ssh driver; with ${engine} mk runs its own load balancer when there is more than one control plane`, at: 'key' });
    else if (isIP(endpoint) === 0) out.push({ path, message: `${quote(endpoint)} is not an IPv4 or IPv6 address (the VIP or load balancer in front of the control planes, port 6443)` });
  }
}

interface Subnet {
  path: string;
  text: string;
  given: boolean;
  cidr: Cidr | undefined;
}

function defaultCidr(text: string): Cidr | undefined {
  const r = parseCidr(text);
  return r.ok ? r.cidr : undefined;
}

function checkLoadBalancer(spec: Obj, out: Issue[]): void {
  const pool = arr(obj(spec.loadBalancer)?.addressPool);
  pool?.forEach((entry, i) => {
    if (typeof entry !== 'string') return;
    const r = parseAddressRange(entry);
    if (!r.ok) out.push({ path: joinPath('spec.loadBalancer.addressPool', i), message: r.reason });
  });
}

function checkAddons(spec: Obj, out: Issue[]): void {
  const seen = new Map<string, number>();
  arr(spec.addons)?.forEach((raw, i) => {
    const addon = obj(raw);
    if (!addon) return;
    const p = joinPath('spec.addons', i);
    const name = str(addon.name);
    if (name !== undefined) {
      const problem = checkDns1123Label(name, LIMITS.addonName);
      if (problem) out.push({ path: joinPath(p, 'name'), message: `addon name ${problem}` });
      const first = seen.get(name);
      if (first !== undefined) out.push({ path: joinPath(p, 'name'), message: `addon "${name}" is already listed at spec.addons[${first}]` });
      else seen.set(name, i);
    }
    const manifests = str(addon.manifests);
    const isUrl = manifests !== undefined && /^[a-z][a-z0-9+.-]*:\/\//i.test(manifests);
    if (manifests !== undefined) {
      if (isUrl) {
        if (!/^https:\/\/[^\s/]+\S*$/.test(manifests) || hasControlChars(manifests)) {
          out.push({ path: joinPath(p, 'manifests'), message: `${quote(manifests)} must be an https:// URL or a relative path` });
        } else if (addon.sha256 === undefined) {
          out.push({ path: joinPath(p, 'manifests'), message: 'manifests from a URL need sha256 (64 hex digits) so the download can be verified', at: 'key' });
        }
      } else {
        checkRelativePath(manifests, joinPath(p, 'manifests'), 'manifests', out);
      }
    }
    const sha = str(addon.sha256);
    if (sha !== undefined && !/^[a-f0-9]{64}$/.test(sha)) {
      out.push({ path: joinPath(p, 'sha256'), message: `${quote(sha)} is not a SHA-256 digest (64 lowercase hex digits)` });
    } else if (addon.sha256 !== undefined && !isUrl) {
      out.push({ path: joinPath(p, 'sha256'), message: 'sha256 only applies to manifests from an https:// URL', at: 'key' });
    }
    if (manifests !== undefined && addon.options !== undefined) {
      out.push({ path: joinPath(p, 'options'), message: "options are for addons of mk's catalog; an addon with manifests: has none (remove options)", at: 'key' });
    }
    checkAddonImages(addon, manifests !== undefined, p, out);
    checkCatalogAddon(addon, name, p, out);
  });
  checkAddonDependencies(spec, out);
  checkIngressDnsTarget(spec, out);
}

/** addons[].images: for catalog addons only (the schema checks the keys), each value an image reference. */
function checkAddonImages(addon: Obj, ownManifests: boolean, p: string, out: Issue[]): void {
  const images = obj(addon.images);
  if (!images) return;
  if (ownManifests) {
    out.push({ path: joinPath(p, 'images'), message: "images replace the images of mk's catalog addons; an addon with manifests: names its images in them (remove images)", at: 'key' });
    return;
  }
  for (const [key, raw] of Object.entries(images)) {
    const ref = str(raw);
    const problem = ref === undefined ? undefined : checkImageRef(ref, { digests: true });
    if (problem) out.push({ path: joinPath(joinPath(p, 'images'), key), message: problem });
  }
}

/**
 * An addon without manifests must be of the catalog (the schema checks each catalog addon's options;
 * where an option has a pattern, this says what a string that does not match must be).
 */
function checkCatalogAddon(addon: Obj, name: string | undefined, p: string, out: Issue[]): void {
  if (name === undefined || addon.manifests !== undefined || addon.enabled === false || checkDns1123Label(name, LIMITS.addonName)) return;
  const entry = CATALOG.get(name);
  if (entry) {
    for (const [key, value] of Object.entries(obj(addon.options) ?? {})) {
      for (const problem of patternProblems(entry.optionsSchema, key, value)) {
        const at = joinPath(joinPath(p, 'options'), key);
        out.push({ path: problem.index === undefined ? at : joinPath(at, problem.index), message: problem.message });
      }
    }
    return;
  }
  const names = [...CATALOG.keys()].sort();
  const guess = suggest(name, names);
  const hint = guess ? `did you mean "${guess}"?` : names.join(', ');
  out.push({ path: joinPath(p, 'name'), message: `"${name}" is not an addon of mk's catalog (${hint}); give manifests: to install your own` });
}

/** An enabled catalog addon whose dependency is listed but disabled. */
function checkAddonDependencies(spec: Obj, out: Issue[]): void {
  const list = arr(spec.addons) ?? [];
  const disabled = new Map<string, number>();
  list.forEach((raw, i) => {
    const a = obj(raw);
    const name = str(a?.name);
    if (a && name !== undefined && a.enabled === false) disabled.set(name, i);
  });
  list.forEach((raw, i) => {
    const a = obj(raw);
    const name = str(a?.name);
    if (!a || name === undefined || a.enabled === false || a.manifests !== undefined) return;
    for (const dep of CATALOG.get(name)?.dependsOn ?? []) {
      const at = disabled.get(dep);
      if (at !== undefined) out.push({ path: joinPath(joinPath('spec.addons', i), 'name'), message: `addon "${name}" needs "${dep}", which spec.addons[${at}] disables` });
    }
  });
}

/**
 * ingress-dns without a load balancer answers with the address of the node Traefik runs on, which
 * serves ports 80 and 443 there only with the ingress addon's hostPorts.
 */
function checkIngressDnsTarget(spec: Obj, out: Issue[]): void {
  const list = arr(spec.addons) ?? [];
  const at = (name: string) => list.findIndex((raw) => str(obj(raw)?.name) === name && obj(raw)?.manifests === undefined);
  const dns = at('ingress-dns');
  const ingress = at('ingress');
  if (dns < 0 || ingress < 0 || obj(list[dns])?.enabled === false || obj(obj(spec.loadBalancer))?.enabled === true) return;
  if (obj(obj(list[ingress])?.options)?.hostPorts !== false) return;
  out.push({
    path: joinPath(joinPath(joinPath('spec.addons', ingress), 'options'), 'hostPorts'),
    message: 'addon "ingress-dns" answers with the address of the node Traefik runs on when loadBalancer.enabled is not true, and Traefik serves that node\'s ports 80 and 443 only with hostPorts: true; remove hostPorts: false, or enable spec.loadBalancer',
  });
}

/** spec.images: references mk can load, each once; a runtime mk can load them into. */
function checkImages(spec: Obj, out: Issue[]): void {
  const list = arr(spec.images);
  if (!list) return;
  if (list.length > 0 && spec.cri === 'cri-o') {
    out.push({ path: 'spec.images', message: 'images cannot be loaded into cri-o nodes yet (cri-o keeps images in containers/storage); use cri: containerd or docker, or load them with podman load on each node', at: 'key' });
  }
  const seen = new Map<string, number>();
  list.forEach((raw, i) => {
    const ref = str(raw);
    if (ref === undefined) return;
    const p = joinPath('spec.images', i);
    const problem = checkImageRef(ref);
    if (problem) {
      out.push({ path: p, message: problem });
      return;
    }
    const full = normalizeImageRef(ref);
    const first = seen.get(full);
    const firstRef = first === undefined ? undefined : str(list[first]);
    if (first !== undefined) out.push({ path: p, message: `image ${quote(ref)} is already listed at spec.images[${first}]${firstRef !== ref ? ` (both are ${full})` : ''}` });
    else seen.set(full, i);
  });
}

/** All semantic problems of a raw (parsed, not yet defaulted) cluster document. */
export function semanticIssues(data: unknown): Issue[] {
  const root = obj(data);
  if (!root) return [];
  const out: Issue[] = [];
  const cluster = checkMetadata(root, out);
  const spec = obj(root.spec) ?? (root.spec === undefined ? {} : undefined);
  if (!spec) return out;
  const version = str(spec.kubernetesVersion);
  if (version !== undefined && !KUBERNETES_VERSION_PATTERN.test(version)) {
    out.push({ path: 'spec.kubernetesVersion', message: `${quote(version)} is not a Kubernetes version like v1.36.3` });
  } else if (version !== undefined && spec.bootstrap !== 'none') {
    const refused = unsupportedVersion(version);
    if (refused) out.push({ path: 'spec.kubernetesVersion', message: refused });
  }
  const driver = checkDriver(spec, out);
  checkNodes(spec, cluster, driver, out);
  checkNetworking(spec, out);
  checkLoadBalancer(spec, out);
  checkAddons(spec, out);
  checkImages(spec, out);
  return out;
}
