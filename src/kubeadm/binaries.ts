// Kubernetes binaries for node images that carry a runtime but not Kubernetes (minikube's kicbase,
// plain hosts): kubeadm, kubelet and kubectl of the spec's version are downloaded once from the
// release site, checked against the published sha256, cached under ~/.cache/mk/kubernetes, and
// copied into the node with a kubelet unit set up the way kubeadm expects.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import type { NodeHandle } from '../drivers/types.js';
import { missingBinaries } from './node.js';
import { BinaryDownloadError } from './errors.js';

export const KUBE_BINARIES = ['kubeadm', 'kubelet', 'kubectl'] as const;
export const DEFAULT_RELEASE_URL = 'https://dl.k8s.io/release';

export const KUBELET_UNIT = '/etc/systemd/system/kubelet.service';
export const KUBELET_DROPIN = '/etc/systemd/system/kubelet.service.d/10-kubeadm.conf';

/** The kubelet unit: it only starts once kubeadm wrote its configuration, and restarts forever. */
export const kubeletUnit = `[Unit]
Description=kubelet, the Kubernetes node agent (installed by mk)
Wants=network-online.target
After=network-online.target
ConditionPathExists=/var/lib/kubelet/config.yaml

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
RestartSec=1s
StartLimitInterval=0

[Install]
WantedBy=multi-user.target
`;

/** How kubeadm passes its settings to the kubelet: kubeconfigs, config file, and the flags file it writes. */
export const kubeletDropIn = `[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
`;

/** uname -m -> the release's architecture name. Pure. */
export function releaseArch(machine: string): string {
  const m = machine.trim();
  const map: Record<string, string> = { x86_64: 'amd64', amd64: 'amd64', aarch64: 'arm64', arm64: 'arm64', ppc64le: 'ppc64le', s390x: 's390x' };
  const arch = map[m];
  if (!arch) throw new BinaryDownloadError(`no Kubernetes release binaries for architecture ${m}`);
  return arch;
}

/** <base>/<version>/bin/linux/<arch>/<name>. Pure. */
export function releaseUrl(base: string, version: string, arch: string, name: string): string {
  return `${base.replace(/\/$/, '')}/${version}/bin/linux/${arch}/${name}`;
}

export interface DownloadOptions {
  /** Default MK_KUBERNETES_RELEASE_URL, then https://dl.k8s.io/release. */
  baseUrl?: string;
  /** Default ~/.cache/mk/kubernetes. */
  cacheDir?: string;
  signal?: AbortSignal;
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

async function download(url: string, signal?: AbortSignal): Promise<Buffer> {
  let res: Response;
  try {
    res = await fetch(url, signal ? { signal } : {});
  } catch (err) {
    throw new BinaryDownloadError(`${url}: ${(err as Error).message}`, { cause: err });
  }
  if (!res.ok) throw new BinaryDownloadError(`${url}: HTTP ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

/** The binary, from the cache or downloaded and checked against the release's .sha256. */
export async function kubeBinary(version: string, arch: string, name: string, opts: DownloadOptions = {}): Promise<Buffer> {
  const base = opts.baseUrl ?? process.env.MK_KUBERNETES_RELEASE_URL ?? DEFAULT_RELEASE_URL;
  const dir = path.join(opts.cacheDir ?? path.join(homedir(), '.cache', 'mk', 'kubernetes'), version, arch);
  const file = path.join(dir, name);
  const url = releaseUrl(base, version, arch, name);
  const want = (await download(`${url}.sha256`, opts.signal)).toString('utf8').trim().split(/\s+/)[0] ?? '';
  if (!/^[a-f0-9]{64}$/.test(want)) throw new BinaryDownloadError(`${url}.sha256 does not hold a sha256`);
  try {
    const cached = await readFile(file);
    if (sha256(cached) === want) return cached;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const data = await download(url, opts.signal);
  const got = sha256(data);
  if (got !== want) throw new BinaryDownloadError(`${url}: sha256 mismatch: the release says ${want}, got ${got}`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, data, { mode: 0o755 });
  await rename(tmp, file);
  return data;
}

/**
 * Installs the Kubernetes binaries the node lacks (and the kubelet unit when it has none).
 * Returns the names installed; [] when the node carries them all.
 */
export async function installKubeBinaries(node: NodeHandle, version: string, opts: DownloadOptions = {}): Promise<string[]> {
  const o = opts.signal ? { signal: opts.signal } : {};
  const missing = await missingBinaries(node, KUBE_BINARIES, opts.signal);
  if (missing.length === 0) return [];
  const arch = releaseArch((await node.run(['uname', '-m'], o)).stdout);
  for (const name of missing) {
    const data = await kubeBinary(version, arch, name, opts);
    await node.writeFile(`/usr/bin/${name}`, data, 0o755, o);
  }
  if ((await node.exec(['systemctl', 'cat', 'kubelet.service'], o)).exitCode !== 0) {
    await node.writeFile(KUBELET_UNIT, kubeletUnit, 0o644, o);
    await node.writeFile(KUBELET_DROPIN, kubeletDropIn, 0o644, o);
    await node.run(['systemctl', 'daemon-reload'], o);
    await node.run(['systemctl', 'enable', 'kubelet.service'], o);
  }
  return missing;
}
