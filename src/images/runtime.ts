// What a node's container runtime is asked, per spec.cri: list the images it holds, import an
// archive from stdin. Argv only; parsers are pure. containerd: ctr in the k8s.io namespace (the
// kubelet's), where the CRI plugin also names each image by its ID (sha256:<config digest>), so an
// image is matched by the same ID `docker images` shows. docker (cri-dockerd): the node's dockerd.
import { MkError } from '../errors.js';
import type { ExecResult, NodeHandle, NodeImage, NodeImages } from '../drivers/types.js';
import { imageDigest, normalizeImageRef } from '../spec/image-refs.js';
import type { Cri } from '../spec/types.js';

export interface Runtime {
  /** What the node runs, for messages ("containerd", "docker"). */
  name: string;
  /** Lists the images it holds. */
  list: readonly string[];
  parse(stdout: string): NodeImage[];
  /** Imports a `docker save` or OCI archive read from stdin. */
  import: readonly string[];
  /**
   * Names an imported image by its ID too, where the runtime does not always do so itself
   * (containerd's CRI plugin names a new image by its ID, but not a new build under a name it knew).
   */
  nameById?(ref: string, id: string): string[];
}

const ID = /^sha256:[a-f0-9]{64}$/;

/** `ctr images ls`: REF TYPE DIGEST SIZE (two words) PLATFORMS LABELS; the CRI plugin adds a ref named by each image's ID. */
export function parseCtrImages(stdout: string): NodeImage[] {
  const rows = stdout
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 3 && f[0] !== '');
  const idOf = new Map<string, string>();
  for (const [ref, , digest] of rows) if (ID.test(ref!)) idOf.set(digest!, ref!);
  return rows
    .filter(([ref]) => !ID.test(ref!))
    .map(([ref, , digest, size, unit]) => ({ ref: ref!, id: idOf.get(digest!) ?? digest!, digest: digest!, ...(size && unit ? { size: `${size} ${unit}` } : {}) }));
}

const DOCKER_FORMAT = '{{.Repository}}:{{.Tag}}\t{{.ID}}\t{{.Size}}';

/** `docker images` in DOCKER_FORMAT; untagged images are left out. */
export function parseDockerImages(stdout: string): NodeImage[] {
  return stdout
    .split('\n')
    .map((l) => l.trim().split('\t'))
    .filter(([ref, id]) => ref && id && !ref.includes('<none>'))
    .map(([ref, id, size]) => ({ ref: normalizeImageRef(ref!), id: id!, ...(size ? { size } : {}) }));
}

export function runtimeFor(cri: Cri): Runtime {
  switch (cri) {
    case 'containerd':
      return {
        name: 'containerd',
        list: ['ctr', '-n', 'k8s.io', 'images', 'ls'],
        parse: parseCtrImages,
        import: ['ctr', '-n', 'k8s.io', 'images', 'import', '-'],
        nameById: (ref, id) => ['ctr', '-n', 'k8s.io', 'images', 'tag', '--force', normalizeImageRef(ref), id],
      };
    case 'docker':
      return { name: 'docker', list: ['docker', 'images', '--no-trunc', '--format', DOCKER_FORMAT], parse: parseDockerImages, import: ['docker', 'load'] };
    case 'cri-o':
      throw new MkError('images cannot be loaded into cri-o nodes yet (cri-o keeps images in containers/storage): load them with podman load on each node');
  }
}

/** Why a runtime command failed, in a line: a missing client is named as such. */
export function runtimeFailure(runtime: Runtime, argv: readonly string[], r: ExecResult): string {
  const output = `${r.stderr}\n${r.stdout}`;
  // sh says 127; sudo and docker exec say it in words.
  if (r.exitCode === 127 || /(executable file|command) not found/i.test(output)) {
    return `${argv[0]} (${runtime.name}'s client) is not on the node: is ${runtime.name} installed?`;
  }
  const said = output.trim().split('\n').filter(Boolean).slice(-3).join('; ');
  const exitCode = r.exitCode;
  return `${argv.join(' ')} exited ${exitCode}${said ? `: ${said}` : ''}`;
}

/** What the node's runtime holds; a runtime that cannot be asked is said in `error`. */
export async function readNodeImages(node: NodeHandle, runtime: Runtime, signal?: AbortSignal): Promise<NodeImages> {
  const r = await node.exec(runtime.list, signal ? { signal } : {});
  if (r.exitCode !== 0) return { held: [], error: runtimeFailure(runtime, runtime.list, r) };
  return { held: runtime.parse(r.stdout) };
}

/**
 * Whether the node holds `ref` (as written or in full); with `id`, only that very image (by ID or
 * manifest digest). A reference pinned by digest is held under any name of its repository with that
 * digest (what a pull by digest leaves).
 */
export function holds(held: readonly NodeImage[], ref: string, id?: string): boolean {
  const full = normalizeImageRef(ref);
  const digest = imageDigest(ref);
  const repo = digest === undefined ? undefined : full.slice(0, full.lastIndexOf('@'));
  const named = (h: NodeImage) => h.ref === full || (repo !== undefined && h.digest === digest && (h.ref.startsWith(`${repo}:`) || h.ref.startsWith(`${repo}@`)));
  return held.some((h) => named(h) && (id === undefined || h.id === id || h.digest === id));
}

/** sha256:0123456789ab, as docker shows an ID. */
export const shortId = (id: string): string => id.replace(/^(sha256:)?([a-f0-9]{12})[a-f0-9]*$/, (_, p: string | undefined, hex: string) => `${p ?? ''}${hex}`);
