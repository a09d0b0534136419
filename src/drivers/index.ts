// Builds the driver a cluster spec names, and finds clusters without one. Drivers load lazily so
// `mk --version` stays fast, and the ssh library loads only for an ssh cluster.
import { API_VERSION, KIND, type Cluster, type DockerDriverOptions, type QemuDriverOptions } from '../spec/types.js';
import { mkHome } from '../state.js';
import { VERSION } from '../version.js';
import type { DockerDriver, DockerEngine } from './docker/driver.js';
import type { Driver } from './types.js';

export type DebugLog = (message: string, context?: Record<string, unknown>) => void;

export async function dockerDriver(options: Partial<DockerDriverOptions>, log?: DebugLog, engine: 'docker' | 'podman' = 'docker'): Promise<DockerDriver> {
  const [{ DockerDriver }, { DOCKER_ENGINE, PODMAN_ENGINE }] = await Promise.all([import('./docker/driver.js'), import('./docker/engine.js')]);
  // MK_HOST_PROC moves the /proc that host facts are read from (tests point it at fake files).
  const procRoot = process.env.MK_HOST_PROC;
  return new DockerDriver({
    options: { image: '', privileged: true, ...options },
    version: VERSION,
    engine: engine === 'podman' ? PODMAN_ENGINE : DOCKER_ENGINE,
    ...(procRoot ? { procRoot } : {}),
    ...(log ? { log } : {}),
  });
}

/** The Docker engine mk uses for a spec that names none (DOCKER_HOST, DOCKER_CONTEXT, the docker CLI's context, the local socket): its version. */
export async function dockerEngineVersion(signal?: AbortSignal): Promise<DockerEngine> {
  return (await dockerDriver({})).engineVersion(signal);
}

export async function driverFor(cluster: Cluster, log?: DebugLog): Promise<Driver> {
  const driver = cluster.spec.driver;
  switch (driver.name) {
    case 'docker':
      return dockerDriver(driver.docker, log);
    case 'podman':
      // podman's Docker-compatible API service: the Docker driver with podman's differences (docker/engine.ts).
      return dockerDriver(driver.podman, log, 'podman');
    case 'ssh': {
      const [{ SshDriver }, { expandNodes }] = await Promise.all([import('./ssh/driver.js'), import('../spec/nodes.js')]);
      // MK_SSH_TRUST_ON_FIRST_USE=1 is the command-line way to trust unknown hosts for one run.
      const tofu = process.env.MK_SSH_TRUST_ON_FIRST_USE;
      return new SshDriver({
        cluster: cluster.metadata.name,
        options: driver.ssh,
        nodes: expandNodes(cluster),
        cri: cluster.spec.cri,
        version: VERSION,
        ...(tofu === '1' || tofu === 'true' ? { trustOnFirstUse: true } : {}),
        ...(log ? { log } : {}),
      });
    }
    case 'qemu':
      return qemuDriver(driver.qemu, log);
  }
}

async function qemuDriver(options: QemuDriverOptions, log?: DebugLog, home?: string): Promise<Driver> {
  const { QemuDriver } = await import('./qemu/driver.js');
  return new QemuDriver({ options, version: VERSION, ...(log ? { log } : {}), ...(home ? { mkHome: home } : {}) });
}

export interface ListOptions {
  signal?: AbortSignal;
  log?: DebugLog;
  /** mk's state directory (where ssh clusters are remembered); default $MK_HOME. */
  home?: string;
}

/**
 * Names of every cluster this machine can find, sorted: the Docker engine's and podman's service's
 * (by label), the ssh ones remembered in the local host inventory
 * ($MK_HOME/clusters/NAME/ssh-hosts.json), and the qemu ones ($MK_HOME/machines/qemu/NAME). An engine that does not answer hides no other cluster,
 * nor does an unreadable inventory hide the others: each is a warning saying why (no podman service
 * listening is no warning: most machines have none).
 */
export async function listAllClusters(opts: ListOptions = {}): Promise<{ names: string[]; warnings: string[] }> {
  const warnings: string[] = [];
  const fromEngine = async (engine: 'docker' | 'podman'): Promise<string[]> => {
    let driver: Driver | undefined;
    try {
      driver = await dockerDriver({}, opts.log, engine);
      return await driver.listClusters(opts.signal);
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      if (engine === 'podman' && nothingListens(err)) return [];
      const [clusters, what] = engine === 'docker' ? ['Docker', 'the Docker engine'] : ['podman', "podman's API service"];
      warnings.push(`${clusters} clusters are not listed: ${what} could not be asked (${(err as Error).message})`);
      return [];
    } finally {
      await driver?.close?.();
    }
  };
  const fromSsh = async (): Promise<string[]> => {
    const { inventoryClusters } = await import('./ssh/inventory.js');
    const { clusters, errors } = await inventoryClusters(opts.home ?? mkHome());
    warnings.push(...errors.map((e) => `ssh cluster not listed: ${e.message}`));
    return clusters;
  };
  const fromQemu = async (): Promise<string[]> => {
    const { qemuClusters } = await import('./qemu/layout.js');
    return qemuClusters(opts.home ?? mkHome());
  };
  const found = await Promise.all([fromEngine('docker'), fromEngine('podman'), fromSsh(), fromQemu()]);
  return { names: [...new Set(found.flat())].sort(), warnings };
}

/** No socket, or nothing listening on it (the error or its cause). */
function nothingListens(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') return true;
  }
  return false;
}

/**
 * The driver that observes a cluster known only by its name (no spec): the qemu driver when mk
 * keeps VMs for it, the ssh driver when the
 * local host inventory remembers hosts for it (with spec.driver.ssh's defaults: ~/.ssh/config, the
 * agent, default keys and known_hosts), else the local Docker engine.
 */
export async function driverForName(name: string, log?: DebugLog, home = mkHome()): Promise<Driver> {
  const [{ readInventory }, { qemuClusters }] = await Promise.all([import('./ssh/inventory.js'), import('./qemu/layout.js')]);
  if ((await qemuClusters(home)).includes(name)) {
    const { applyDefaults } = await import('../spec/defaults.js');
    const spec = applyDefaults({ apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec: { driver: { name: 'qemu' }, nodes: [] } });
    return qemuDriver((spec.spec.driver as { qemu: QemuDriverOptions }).qemu, log, home);
  }
  if (Object.keys(await readInventory(name, home)).length === 0) return dockerDriver({}, log);
  const { SshDriver } = await import('./ssh/driver.js');
  // No desired nodes: every host comes from the inventory, and cri (checked on desired hosts only) plays no part.
  return new SshDriver({ cluster: name, options: {}, nodes: [], cri: 'containerd', version: VERSION, mkHome: home, ...(log ? { log } : {}) });
}

/**
 * A cluster known only by its name: the driver that finds it (driverForName) and the spec mk assumes
 * for it, that driver with its defaults and no nodes: enough to reach its nodes and, through a
 * control plane, its API server (nothing to plan with).
 */
export async function clusterForName(name: string, log?: DebugLog, home = mkHome()): Promise<{ driver: Driver; cluster: Cluster }> {
  const [driver, { applyDefaults }] = await Promise.all([driverForName(name, log, home), import('../spec/defaults.js')]);
  const named = driver.name === 'ssh' ? { name: 'ssh' as const, ssh: {} } : driver.name === 'qemu' ? { name: 'qemu' as const } : { name: 'docker' as const };
  const cluster = applyDefaults({ apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec: { driver: named, nodes: [] } });
  return { driver, cluster };
}
