// podman's Docker-compatible API service for the podman driver's tests (bash scripts/start-podman.sh).
import Docker from 'dockerode';
import { DEFAULT_PODMAN_SOCKET } from '../../src/drivers/docker/endpoint.js';

export const PODMAN_SOCKET = process.env.MK_PODMAN_SOCKET ?? DEFAULT_PODMAN_SOCKET;
export const podman = new Docker({ socketPath: PODMAN_SOCKET });

/** Whether the service answers; under CI a missing service is an error, locally the caller skips. */
export async function podmanReachable(): Promise<boolean> {
  const up = await podman.ping().then(
    () => true,
    () => false,
  );
  if (!up && process.env.CI) throw new Error(`no podman service answers at ${PODMAN_SOCKET}: start it with sudo bash scripts/start-podman.sh`);
  return up;
}

/** `image` in podman's store: `docker save | podman load`, through both APIs, when podman lacks it. */
export async function ensurePodmanImage(image: string): Promise<void> {
  try {
    await podman.getImage(image).inspect();
    return;
  } catch {
    // not there yet
  }
  const archive = await new Docker().getImage(image).get();
  const loaded = await podman.loadImage(archive);
  await new Promise<void>((resolve, reject) => podman.modem.followProgress(loaded, (err: Error | null) => (err ? reject(err) : resolve())));
  await podman.getImage(image).inspect();
}

/** What podman holds for a cluster, by mk's label (podman 4.3 ORs label filters on volumes: kept to this cluster's). */
export async function onPodman(cluster: string): Promise<{ containers: Docker.ContainerInfo[]; volumes: string[]; networks: Docker.NetworkInspectInfo[] }> {
  const filters = { label: [`mk.dev/cluster=${cluster}`] };
  const [containers, volumes, networks] = await Promise.all([podman.listContainers({ all: true, filters }), podman.listVolumes({ filters }), podman.listNetworks({ filters })]);
  return {
    containers: containers.sort((a, b) => (a.Names[0] ?? '').localeCompare(b.Names[0] ?? '')),
    volumes: (volumes.Volumes ?? []).filter((v) => v.Labels?.['mk.dev/cluster'] === cluster).map((v) => v.Name).sort(),
    networks,
  };
}

/** Removes what podman holds for a cluster (test cleanup). */
export async function removeFromPodman(cluster: string): Promise<void> {
  const { containers, volumes, networks } = await onPodman(cluster);
  await Promise.all(containers.map((c) => podman.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  await Promise.all(volumes.map((v) => podman.getVolume(v).remove().catch(() => undefined)));
  await Promise.all(networks.map((n) => podman.getNetwork(n.Id).remove().catch(() => undefined)));
}
