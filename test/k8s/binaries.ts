// Where test/k8s/build.sh puts the Kubernetes binaries, and how tests find (or refuse) them.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const K8S_DIR = path.dirname(fileURLToPath(import.meta.url));
export const BUILD_SCRIPT = 'test/k8s/build.sh';

/** Every binary build.sh produces. */
export const K8S_BINARIES = [
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubeadm',
  'kubelet',
  'kubectl',
  'kube-proxy',
  'etcd',
] as const;
export type K8sBinary = (typeof K8S_BINARIES)[number];

/** The pinned Kubernetes version (test/k8s/VERSION), overridable with MK_K8S_VERSION. */
export function k8sVersion(): string {
  const fromEnv = process.env.MK_K8S_VERSION?.trim();
  if (fromEnv) return fromEnv;
  return readFileSync(path.join(K8S_DIR, 'VERSION'), 'utf8').trim();
}

/** `${MK_K8S_CACHE:-$HOME/.cache/mk/k8s}` */
export function k8sCacheRoot(): string {
  const fromEnv = process.env.MK_K8S_CACHE?.trim();
  return fromEnv ? path.resolve(fromEnv) : path.join(homedir(), '.cache', 'mk', 'k8s');
}

/** The directory build.sh installs into; it may not exist yet. */
export function k8sBinDir(version: string = k8sVersion()): string {
  return path.join(k8sCacheRoot(), version, 'bin');
}

export class K8sBinariesMissingError extends Error {
  override name = 'K8sBinariesMissingError';
  constructor(
    readonly binDir: string,
    readonly missing: readonly string[],
  ) {
    super(
      `Kubernetes test binaries missing in ${binDir} (${missing.join(', ')}). ` +
        `Run ${BUILD_SCRIPT} first (cold build takes about 30 min on 2 cores; MK_K8S_CACHE moves the cache).`,
    );
  }
}

/** Returns the bin dir if the build completed and every wanted binary is there; throws otherwise. */
export function ensureK8sBinaries(wanted: readonly K8sBinary[] = K8S_BINARIES, version?: string): string {
  const dir = k8sBinDir(version);
  const missing: string[] = wanted.filter((b) => !existsSync(path.join(dir, b)));
  if (!existsSync(path.join(dir, '.complete'))) missing.push('.complete marker');
  if (missing.length > 0) throw new K8sBinariesMissingError(dir, missing);
  return dir;
}

/** Versions recorded by build.sh (kubernetes=, etcd=, go=, built=). */
export function builtVersions(version?: string): Record<string, string> {
  const text = readFileSync(path.join(k8sBinDir(version), 'versions.env'), 'utf8');
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

export interface BinariesGate {
  /** Set when the tests should be skipped (only ever outside CI). */
  skip: string | false;
  binDir: string;
}

/**
 * For e2e test files: `const gate = binariesGate(); describe.skipIf(gate.skip)(...)`.
 * With `CI` set, missing binaries are an error (the file fails at collection); locally the
 * tests are skipped and the reason is printed once.
 */
export function binariesGate(wanted: readonly K8sBinary[] = K8S_BINARIES): BinariesGate {
  try {
    return { skip: false, binDir: ensureK8sBinaries(wanted) };
  } catch (err) {
    if (!(err instanceof K8sBinariesMissingError)) throw err;
    if (process.env.CI) throw err;
    console.warn(`[mk e2e] SKIPPING: ${err.message}`);
    return { skip: err.message, binDir: err.binDir };
  }
}
