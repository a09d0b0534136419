// What an image archive holds (`docker save`, or an OCI image layout as a tar; gzip allowed): the
// references it names and each image's ID, read in one pass that keeps only the small JSON files
// (manifest.json, index.json, manifests and configs), so a node that holds them can be skipped
// before the archive is streamed to it.
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { MkError } from '../errors.js';
import { normalizeImageRef } from '../spec/image-refs.js';

export interface ArchiveImages {
  /** Absolute path of the archive. */
  path: string;
  /** Its size in bytes. */
  bytes: number;
  /** Each image it names: full reference and ID (sha256:<config digest>). */
  images: { ref: string; id: string }[];
}

/** JSON blobs above this size are not manifests or configs (layers are tars, never JSON). */
const MAX_JSON_BLOB = 4 * 1024 * 1024;

interface Descriptor {
  mediaType?: string;
  digest: string;
  platform?: { os?: string; architecture?: string };
  annotations?: Record<string, string>;
  config?: { digest: string };
  manifests?: Descriptor[];
}

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', s390x: 's390x', ppc64: 'ppc64le' };

async function isGzip(path: string): Promise<boolean> {
  const f = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await f.read(Buffer.alloc(2), 0, 2, 0);
    return bytesRead === 2 && buffer[0] === 0x1f && buffer[1] === 0x8b;
  } finally {
    await f.close();
  }
}

/** The small JSON files of the archive, by path. */
async function jsonFiles(path: string, signal?: AbortSignal): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const tar = extract();
  tar.on('entry', (header, stream, next) => {
    const name = header.name.replace(/^\.\//, '');
    const wanted = name === 'manifest.json' || name === 'index.json' || (name.startsWith('blobs/') && (header.size ?? 0) <= MAX_JSON_BLOB);
    const chunks: Buffer[] = [];
    let json = wanted;
    stream.on('data', (data: unknown) => {
      const c = data as Buffer;
      if (chunks.length === 0 && c.length > 0 && c[0] !== 0x7b && c[0] !== 0x5b) json = false; // not '{' or '['
      if (json) chunks.push(c);
    });
    stream.on('end', () => {
      if (json && chunks.length > 0) files.set(name, Buffer.concat(chunks).toString('utf8'));
      next();
    });
    stream.resume();
  });
  const gz = await isGzip(path);
  await pipeline([createReadStream(path), ...(gz ? [createGunzip()] : []), tar], signal ? { signal } : {});
  return files;
}

const blobPath = (digest: string): string => `blobs/${digest.replace(':', '/')}`;

function parse<T>(files: Map<string, string>, name: string, archive: string): T | undefined {
  const text = files.get(name);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new MkError(`${archive}: ${name} is not valid JSON`);
  }
}

/** The config digest of an OCI manifest (or, through an index, of this machine's platform's manifest); the digest itself when the blob is not there. */
function imageId(files: Map<string, string>, d: Descriptor, archive: string): string {
  const blob = parse<Descriptor>(files, blobPath(d.digest), archive);
  if (blob?.config?.digest) return blob.config.digest;
  if (blob?.manifests?.length) {
    const arch = ARCH[process.arch] ?? process.arch;
    const present = blob.manifests.filter((m) => files.has(blobPath(m.digest)));
    const mine = present.find((m) => m.platform?.os === 'linux' && m.platform.architecture === arch) ?? present[0];
    if (mine) return imageId(files, mine, archive);
  }
  return d.digest;
}

/** References and IDs of the images an archive holds. Refuses a file that is not an image archive, or one that names no image. */
export async function readArchive(path: string, signal?: AbortSignal): Promise<ArchiveImages> {
  const bytes = (await stat(path)).size;
  let files: Map<string, string>;
  try {
    files = await jsonFiles(path, signal);
  } catch (err) {
    signal?.throwIfAborted();
    throw new MkError(`${path} is not an image archive (a tar from docker save, or an OCI image layout): ${(err as Error).message}`);
  }
  const images: ArchiveImages['images'] = [];
  const docker = parse<{ Config: string; RepoTags?: string[] | null }[]>(files, 'manifest.json', path);
  const oci = parse<Descriptor>(files, 'index.json', path);
  if (docker) {
    for (const m of docker) {
      const hex = /([a-f0-9]{64})(\.json)?$/.exec(m.Config)?.[1];
      for (const tag of m.RepoTags ?? []) images.push({ ref: normalizeImageRef(tag), id: hex ? `sha256:${hex}` : m.Config });
    }
  } else if (oci) {
    for (const m of oci.manifests ?? []) {
      const name = m.annotations?.['io.containerd.image.name'] ?? m.annotations?.['org.opencontainers.image.ref.name'];
      // A bare tag ("v1") names no repository: containerd would not know what to call it.
      if (name && /[/:]/.test(name)) images.push({ ref: normalizeImageRef(name), id: imageId(files, m, path) });
    }
  } else {
    throw new MkError(`${path} is not an image archive: it has neither manifest.json (docker save) nor index.json (OCI layout)`);
  }
  if (images.length === 0) {
    throw new MkError(`${path} names no image, so a node could not run it by name: save it with a name (docker save NAME:TAG -o FILE), or set the org.opencontainers.image.ref.name annotation to a full reference`);
  }
  return { path, bytes, images };
}
