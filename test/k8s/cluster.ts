// Tier 3 from TypeScript: build/find the node image and bring a two-node kubeadm cluster up
// in Docker (test/k8s/node-image.sh, test/k8s/cluster.sh), argv only.
import { KubeConfig } from '@kubernetes/client-node';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { binariesGate, K8S_DIR } from './binaries.js';

const execFileP = promisify(execFile);

/** Runs a test/k8s script, streaming its stderr to ours (progress), returning stdout. Throws with the tail on failure. */
export function runScript(script: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(K8S_DIR, script), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      process.stderr.write(d);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${script} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${err.split('\n').slice(-40).join('\n')}`));
    });
  });
}

/** Whether the Docker engine answers. */
export async function dockerAvailable(): Promise<boolean> {
  try {
    await execFileP('docker', ['version', '--format', '{{.Server.Version}}'], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a tier-3 test file (node containers) skips: the binaries are missing (binariesGate: an error
 * under CI), MK_E2E_TIER3=0, or Docker does not answer (an error with MK_E2E_TIER3=1).
 */
export async function tier3Skip(): Promise<boolean> {
  if (binariesGate().skip || process.env.MK_E2E_TIER3 === '0') return true;
  if (await dockerAvailable()) return false;
  if (process.env.MK_E2E_TIER3 === '1') throw new Error('MK_E2E_TIER3=1 but the Docker engine does not answer');
  console.warn('[mk e2e] SKIPPING tier 3: the Docker engine does not answer');
  return true;
}

/** Builds (or reuses) the tier-3 node image; returns its tag. */
export async function ensureNodeImage(timeoutMs = 1_800_000): Promise<string> {
  const out = await runScript('node-image.sh', [], timeoutMs);
  const tag = out.trim().split('\n').pop();
  if (!tag) throw new Error('node-image.sh printed no image tag');
  return tag;
}

export interface KubeadmCluster {
  name: string;
  dir: string;
  kubeconfigPath: string;
  kubeConfig: KubeConfig;
  nodes: string[];
  /** `docker exec <node> argv...` */
  exec(node: string, argv: readonly string[]): Promise<{ stdout: string; stderr: string }>;
  delete(): Promise<void>;
}

/** `cluster.sh up`: one control-plane node (kubeadm init) and one worker (kubeadm join). */
export async function createKubeadmCluster(image: string, name = `e2e${process.pid}`): Promise<KubeadmCluster> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mk-k8s-cluster-'));
  const del = async () => {
    await runScript('cluster.sh', ['down', name], 120_000).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await runScript('cluster.sh', ['up', name, image, dir], 1_200_000);
  } catch (err) {
    if (process.env.MK_K8S_KEEP !== '1') await del();
    throw err;
  }
  const kubeconfigPath = path.join(dir, 'admin.conf');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  return {
    name,
    dir,
    kubeconfigPath,
    kubeConfig,
    nodes: [`${name}-control-plane`, `${name}-worker`],
    exec: (node, argv) => execFileP('docker', ['exec', node, ...argv], { maxBuffer: 16 * 1024 * 1024 }),
    delete: del,
  };
}
