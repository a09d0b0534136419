// A real kubeadm (built by test/k8s/build.sh) for tests that need no node:
// config validation, image lists, and the certs/kubeconfig phases in a temp dir.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { ensureK8sBinaries } from './binaries.js';

export interface CommandResult {
  argv: string[];
  /** Exit code; null if killed by a signal (or the timeout). */
  code: number | null;
  stdout: string;
  stderr: string;
  ok: boolean;
  /** stdout and stderr joined, for messages and assertions. */
  output: string;
}

export interface KubeadmOptions {
  binDir?: string;
  timeoutMs?: number;
  /** Extra environment variables for kubeadm. */
  env?: Record<string, string>;
}

/** Runs `kubeadm args...` (argv, no shell). Never throws for a non-zero exit: check `ok`/`code`. */
export function runKubeadm(args: readonly string[], opts: KubeadmOptions = {}): Promise<CommandResult> {
  const bin = path.join(opts.binDir ?? ensureK8sBinaries(['kubeadm']), 'kubeadm');
  const argv = [bin, ...args];
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 32 * 1024 * 1024, env: { ...process.env, KUBECONFIG: '', ...opts.env } }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean }) | null;
      if (e && typeof e.code === 'string') {
        reject(new Error(`cannot run ${bin}: ${e.message}`));
        return;
      }
      const code = e ? (typeof e.code === 'number' ? e.code : null) : 0;
      resolve({ argv, code, stdout, stderr, ok: code === 0, output: [stdout, stderr].filter(Boolean).join('\n') });
    });
  });
}

async function withConfigFile<T>(configText: string, fn: (file: string, dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mk-kubeadm-'));
  try {
    const file = path.join(dir, 'kubeadm.yaml');
    await writeFile(file, configText);
    return await fn(file, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `kubeadm config validate --config <file>`: schema and semantic checks of a kubeadm config. */
export async function kubeadmValidate(configText: string, opts: KubeadmOptions = {}): Promise<{ ok: boolean; output: string }> {
  const r = await withConfigFile(configText, (file) => runKubeadm(['config', 'validate', '--config', file], opts));
  return { ok: r.ok, output: r.output };
}

/** `kubeadm config images list --config <file>`: the images a node needs for this config. */
export async function kubeadmImagesList(configText: string, opts: KubeadmOptions = {}): Promise<string[]> {
  const r = await withConfigFile(configText, (file) => runKubeadm(['config', 'images', 'list', '--config', file], opts));
  if (!r.ok) throw new Error(`kubeadm config images list failed (exit ${r.code}):\n${r.output}`);
  return r.stdout.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
}

interface KubeObject {
  apiVersion?: string;
  kind?: string;
  [k: string]: unknown;
}

/** Parses a multi-document kubeadm config, edits the documents of one kind, and re-serialises it. */
export function editKubeadmConfig(configText: string, kind: string, edit: (doc: KubeObject) => void): string {
  const docs = yaml.loadAll(configText).filter((d): d is KubeObject => d !== null && typeof d === 'object');
  let found = false;
  for (const d of docs) {
    if (d.kind === kind) {
      edit(d);
      found = true;
    }
  }
  if (!found) throw new Error(`no ${kind} document in the kubeadm config`);
  return docs.map((d) => yaml.dump(d, { lineWidth: -1 })).join('---\n');
}

export interface KubeadmPki {
  /** Temp dir holding config.yaml, pki/ and kubeconfig/. */
  dir: string;
  certDir: string;
  kubeconfigDir: string;
  certs: CommandResult;
  kubeconfigs: CommandResult;
  cleanup(): Promise<void>;
}

/**
 * `kubeadm init phase certs all` + `kubeadm init phase kubeconfig all` for this config, with
 * certificatesDir pointed at a temp dir (nothing is written under /etc). Throws if a phase fails.
 */
export async function kubeadmInitPki(configText: string, opts: KubeadmOptions = {}): Promise<KubeadmPki> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mk-kubeadm-pki-'));
  const certDir = path.join(dir, 'pki');
  const kubeconfigDir = path.join(dir, 'kubeconfig');
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    const file = path.join(dir, 'config.yaml');
    await writeFile(
      file,
      editKubeadmConfig(configText, 'ClusterConfiguration', (d) => {
        d.certificatesDir = certDir;
      }),
    );
    const certs = await runKubeadm(['init', 'phase', 'certs', 'all', '--config', file], opts);
    if (!certs.ok) throw new Error(`kubeadm init phase certs all failed (exit ${certs.code}):\n${certs.output}`);
    const kubeconfigs = await runKubeadm(['init', 'phase', 'kubeconfig', 'all', '--config', file, '--kubeconfig-dir', kubeconfigDir], opts);
    if (!kubeconfigs.ok) throw new Error(`kubeadm init phase kubeconfig all failed (exit ${kubeconfigs.code}):\n${kubeconfigs.output}`);
    return { dir, certDir, kubeconfigDir, certs, kubeconfigs, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

export interface KubeadmDryRun {
  /** KUBEADM_INIT_DRYRUN_DIR: static Pod manifests (etcd.yaml, kube-apiserver.yaml, ...), PKI, kubeconfigs, kubelet config. */
  dir: string;
  result: CommandResult;
  cleanup(): Promise<void>;
}

/**
 * `kubeadm init --dry-run --config` with its output dir (KUBEADM_INIT_DRYRUN_DIR) and certificatesDir
 * in a temp dir: nothing is written under /etc or /var. Needs no kubelet, CRI or root. Throws on failure.
 */
export async function kubeadmInitDryRun(configText: string, opts: KubeadmOptions = {}): Promise<KubeadmDryRun> {
  const root = await mkdtemp(path.join(tmpdir(), 'mk-kubeadm-dryrun-'));
  const dir = path.join(root, 'out');
  const cleanup = () => rm(root, { recursive: true, force: true });
  try {
    const file = path.join(root, 'config.yaml');
    await writeFile(
      file,
      editKubeadmConfig(configText, 'ClusterConfiguration', (d) => {
        d.certificatesDir = dir;
      }),
    );
    const result = await runKubeadm(['init', '--dry-run', '--config', file], { ...opts, env: { ...opts.env, KUBEADM_INIT_DRYRUN_DIR: dir } });
    if (!result.ok) throw new Error(`kubeadm init --dry-run failed (exit ${result.code}):\n${result.output.slice(-4000)}`);
    return { dir, result, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
