// Image references as `docker` and containerd read them: syntax check, and the full form a node's
// runtime lists (nginx:1.27 -> docker.io/library/nginx:1.27). Pure.
import { quote } from './names.js';

/** A path component of a repository name (lowercase, with . _ __ or - between alphanumerics). */
const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::\d{1,5})?$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

interface Parts {
  domain?: string;
  path: string;
  tag?: string;
  digest?: string;
}

/** The first component is a registry when it has a dot or a port, or is localhost (docker's rule). */
const isDomain = (first: string): boolean => first.includes('.') || first.includes(':') || first === 'localhost';

function split(ref: string): Parts {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const slash = rest.indexOf('/');
  const first = slash >= 0 ? rest.slice(0, slash) : '';
  const domain = slash >= 0 && isDomain(first) ? first : undefined;
  const path = domain !== undefined ? rest.slice(slash + 1) : rest;
  return { path, ...(domain !== undefined ? { domain } : {}), ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/**
 * Why `ref` is not an image reference mk can load, or undefined. Digests are refused: what a
 * registry serves under a digest does not survive `docker save`, so a node could never match it.
 * With `digests`, a reference pinned by digest is taken (an addon image override: nodes pull it).
 */
export function checkImageRef(ref: string, opts: { digests?: boolean } = {}): string | undefined {
  if (ref.length === 0) return 'must not be empty';
  if (ref.length > 255) return `${quote(ref)} is longer than 255 characters`;
  if ([...ref].some((c) => /\s/.test(c) || c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) return `${quote(ref)} is not an image reference: it contains spaces or control characters`;
  const p = split(ref);
  if (p.digest !== undefined && !opts.digests) return `${quote(ref)} names a digest: a digest pins what a registry serves, which docker save does not keep; name the image by a tag (name:tag)`;
  if (p.digest !== undefined && !/^sha256:[a-f0-9]{64}$/.test(p.digest)) return `${quote(ref)} is not an image reference: the digest ${quote(p.digest)} is not sha256: and 64 lowercase hex digits`;
  if (p.domain !== undefined && !DOMAIN.test(p.domain)) return `${quote(ref)} is not an image reference: ${quote(p.domain)} is not a registry host`;
  if (p.tag !== undefined && !TAG.test(p.tag)) return `${quote(ref)} is not an image reference: the tag ${quote(p.tag)} may hold letters, digits, '_', '.' and '-' (at most 128)`;
  if (!p.path.split('/').every((c) => COMPONENT.test(c))) {
    return `${quote(ref)} is not an image reference like nginx:1.27 or registry.example.com/team/app:v2 (lowercase name components)`;
  }
  return undefined;
}

/** The digest a reference is pinned to (sha256:...), if any. */
export const imageDigest = (ref: string): string | undefined => split(ref).digest;

/** The full reference a node's runtime lists: registry, repository and tag (default docker.io and latest). */
export function normalizeImageRef(ref: string): string {
  const p = split(ref);
  const domain = p.domain === undefined || p.domain === 'index.docker.io' ? 'docker.io' : p.domain;
  const path = domain === 'docker.io' && !p.path.includes('/') ? `library/${p.path}` : p.path;
  return `${domain}/${path}${p.digest !== undefined ? `@${p.digest}` : `:${p.tag ?? 'latest'}`}`;
}
