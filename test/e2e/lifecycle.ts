// What the lifecycle checks of a real cluster share (mk stop, mk start, an engine restart): the node
// containers as Docker has them, a workload that must survive, and restarting the Docker engine the
// way scripts/start-docker.sh starts it. Not a test file.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { KubeClient } from '../../src/kube/index.js';
import { pidAlive } from '../../src/reconcile/lock.js';
import { ROOT } from '../helpers/cli.js';
import { eventually } from '../helpers/wait.js';

const execFileP = promisify(execFile);

/** MK_E2E_ENGINE_RESTART=1: the engine may be restarted (every container on it stops for a while). */
export const engineRestartAllowed = process.env.MK_E2E_ENGINE_RESTART === '1';

export interface NodeView {
  state: string;
  /** The static address on the cluster network. */
  address: string;
  /** The API server port published now (running control planes). */
  apiPort?: string;
}

/** Per node container: its state, its address on the cluster network and its published API port. */
export async function nodeViews(nodes: readonly string[]): Promise<Record<string, NodeView>> {
  const format = '{{.Name}} {{.State.Status}} {{range .NetworkSettings.Networks}}{{.IPAMConfig.IPv4Address}}{{end}} {{range $p, $b := .NetworkSettings.Ports}}{{range $b}}{{.HostPort}}{{end}}{{end}}';
  const { stdout } = await execFileP('docker', ['inspect', '-f', format, ...nodes]);
  return Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .map(([n, state, address, port]) => [n!.replace(/^\//, ''), { state: state!, address: address!, ...(port ? { apiPort: port } : {}) }]),
  );
}

export const addresses = (v: Record<string, NodeView>): Record<string, string> => Object.fromEntries(Object.entries(v).map(([n, x]) => [n, x.address]));

const NS = 'mk-lifecycle';

/** A ConfigMap and a Deployment of 2 replicas of the pause image the node holds (never pulled). */
export async function deployWorkload(client: KubeClient, node: string): Promise<void> {
  const { stdout } = await execFileP('docker', ['exec', node, 'ctr', '-n', 'k8s.io', 'images', 'ls', '-q']);
  const pause = stdout.split('\n').find((t) => t.startsWith('registry.k8s.io/pause:'));
  if (!pause) throw new Error(`no pause image on ${node}`);
  const labels = { app: 'sleeper' };
  const objects = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kept', namespace: NS }, data: { answer: '42' } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'sleeper', namespace: NS },
      spec: { replicas: 2, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'pause', image: pause, imagePullPolicy: 'Never' }] } } },
    },
  ];
  for (const o of objects) await client.apply(o);
}

interface Pod {
  status?: { containerStatuses?: Array<{ ready?: boolean; state?: { running?: { startedAt?: string } } }> };
}

/** Waits until the ConfigMap is there and both pods of the Deployment run containers started at `since` or later. */
export function workloadRunning(client: KubeClient, since: number, timeoutMs = 180_000): Promise<true> {
  return eventually(
    `the workload running (ConfigMap kept, 2 pods with containers started after ${new Date(since).toISOString()})`,
    async () => {
      const cm = await client.json<{ data?: Record<string, string> }>('GET', `/api/v1/namespaces/${NS}/configmaps/kept`);
      const pods = (await client.json<{ items: Pod[] }>('GET', `/api/v1/namespaces/${NS}/pods?labelSelector=app%3Dsleeper`)).items;
      const fresh = pods.filter((p) =>
        p.status?.containerStatuses?.every((c) => c.ready === true && Date.parse(c.state?.running?.startedAt ?? '') >= Math.floor(since / 1000) * 1000),
      );
      return cm.data?.answer === '42' && fresh.length === 2 ? (true as const) : undefined;
    },
    timeoutMs,
    2000,
  );
}

/** The server of context mk-NAME in the kubeconfig at `path`. */
export async function kubeconfigServer(path: string, cluster: string): Promise<string | undefined> {
  const { readKubeconfig } = await import('../../src/kubeadm/kubeconfig.js');
  const doc = await readKubeconfig(path);
  return doc?.clusters?.find((c) => c.name === `mk-${cluster}`)?.cluster?.server as string | undefined;
}

/**
 * Restarts the Docker engine as scripts/start-docker.sh runs it: SIGTERM to the dockerd of
 * /var/run/docker.pid (it stops every container on its way down), then the script starts it again.
 * Resolves with how long the engine took to be gone and to answer again, and the other containers it stopped.
 */
export async function restartEngine(cluster: string): Promise<{ goneMs: number; upMs: number; others: string[] }> {
  const pid = Number((await readFile('/var/run/docker.pid', 'utf8')).trim());
  // Said in the timings: what else the restart stopped.
  const { stdout } = await execFileP('docker', ['ps', '--format', '{{.Names}} {{.Label "mk.dev/cluster"}}']);
  const others = stdout.split('\n').filter((l) => l.trim() && l.split(' ')[1] !== cluster).map((l) => l.split(' ')[0]!);
  const t0 = Date.now();
  process.kill(pid, 'SIGTERM');
  await eventually('dockerd exits', async () => !pidAlive(pid), 120_000, 200);
  const goneMs = Date.now() - t0;
  await execFileP('bash', [join(ROOT, 'scripts/start-docker.sh')], { timeout: 120_000 });
  return { goneMs, upMs: Date.now() - t0, others };
}
