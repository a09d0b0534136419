// Helpers for integration tests that run the real mk CLI (test/helpers/cli.ts) against the real Docker engine.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Docker from 'dockerode';
import { clusterYaml, controlPlanes, dockerDriver, workers, type ClusterSpec } from '../helpers/spec.js';

export const TEST_IMAGE = process.env.MK_TEST_IMAGE ?? 'mk.local/node:dev';
export const docker = new Docker();

export function uniqueClusterName(prefix = 'it'): string {
  return `${prefix}${randomBytes(3).toString('hex')}`;
}

export interface TestEnv {
  dir: string;
  home: string;
  env: NodeJS.ProcessEnv;
  cleanup: () => Promise<void>;
}

export async function testEnv(): Promise<TestEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'mk-it-'));
  const home = join(dir, 'mk-home');
  return {
    dir,
    home,
    env: { ...process.env, MK_HOME: home, NO_COLOR: '1', CI: 'true' },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A Docker cluster of the test image without Kubernetes: one control plane and `workerCount` workers; `more` overrides fields. */
export function specYaml(name: string, workerCount: number, more: Partial<ClusterSpec> = {}): string {
  return clusterYaml({ name, bootstrap: 'none', driver: dockerDriver(TEST_IMAGE), nodes: [controlPlanes(1), workers(workerCount)], ...more });
}

export async function writeSpec(dir: string, name: string, workers: number): Promise<string> {
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, specYaml(name, workers));
  return file;
}

const labelFilter = (cluster: string) => ({ label: [`mk.dev/cluster=${cluster}`] });

export async function labelled(cluster: string): Promise<{ containers: Docker.ContainerInfo[]; volumes: string[]; networks: string[] }> {
  const [containers, volumes, networks] = await Promise.all([
    docker.listContainers({ all: true, filters: labelFilter(cluster) }),
    docker.listVolumes({ filters: labelFilter(cluster) }),
    docker.listNetworks({ filters: labelFilter(cluster) }),
  ]);
  return {
    containers: containers.sort((a, b) => (a.Names[0] ?? '').localeCompare(b.Names[0] ?? '')),
    volumes: (volumes.Volumes ?? []).map((v) => v.Name).sort(),
    networks: networks.map((n) => n.Name).sort(),
  };
}

export async function containerNames(cluster: string): Promise<string[]> {
  return (await labelled(cluster)).containers.map((c) => (c.Names[0] ?? '').replace(/^\//, ''));
}

/** Docker events for the cluster's objects between two instants (epoch ms), e.g. to prove a no-op. */
export async function dockerEvents(cluster: string, since: number, until: number): Promise<Array<{ Type: string; Action: string }>> {
  const secs = (ms: number) => (ms / 1000).toFixed(3);
  const stream = (await docker.getEvents({ since: secs(since), until: secs(until), filters: labelFilter(cluster) } as unknown as Parameters<typeof docker.getEvents>[0])) as unknown as NodeJS.ReadableStream;
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { Type: string; Action: string });
}

/**
 * Removes everything labelled for the cluster, straight through the Docker API (test cleanup).
 * Twice, a second apart: a create sent by a killed mk can still land in the engine after the first pass.
 */
export async function removeLabelled(cluster: string): Promise<void> {
  await removeLabelledOnce(cluster);
  await sleep(1000);
  await removeLabelledOnce(cluster);
}

async function removeLabelledOnce(cluster: string): Promise<void> {
  const { containers, volumes, networks } = await labelled(cluster);
  await Promise.all(containers.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined)));
  await Promise.all(volumes.map((v) => docker.getVolume(v).remove().catch(() => undefined)));
  await Promise.all(networks.map((n) => docker.getNetwork(n).remove().catch(() => undefined)));
}
