// spec.images: reference syntax, the full form runtimes list, and every problem with its line:column.
import { describe, expect, it } from 'vitest';
import { SpecError } from '../../src/errors.js';
import { checkImageRef, normalizeImageRef } from '../../src/spec/image-refs.js';
import { parseSpec } from '../../src/spec/load.js';

describe('image references', () => {
  it.each([
    ['nginx', 'docker.io/library/nginx:latest'],
    ['nginx:1.27', 'docker.io/library/nginx:1.27'],
    ['team/app:v2', 'docker.io/team/app:v2'],
    ['index.docker.io/team/app', 'docker.io/team/app:latest'],
    ['mk.test/k8s-node:v1.36.3-abc', 'mk.test/k8s-node:v1.36.3-abc'],
    ['localhost/app:dev', 'localhost/app:dev'],
    ['registry.example.com:5000/a/b/c:1', 'registry.example.com:5000/a/b/c:1'],
    ['registry.k8s.io/pause:3.10.2', 'registry.k8s.io/pause:3.10.2'],
  ])('%s is %s on a node', (ref, full) => {
    expect(checkImageRef(ref)).toBeUndefined();
    expect(normalizeImageRef(ref)).toBe(full);
  });

  it.each([
    ['', 'must not be empty'],
    ['Nginx', 'lowercase'],
    ['nginx@sha256:' + 'a'.repeat(64), 'names a digest'],
    ['app:-x', 'the tag "-x"'],
    ['a..b/app', 'not a registry host'],
    ['app:v1 ; rm -rf /', 'contains spaces'],
    ['-rf', 'lowercase name components'],
  ])('refuses %j', (ref, why) => {
    expect(checkImageRef(ref)).toContain(why);
  });
});

function problems(yaml: string): string[] {
  try {
    parseSpec(yaml, 'c.yaml');
  } catch (err) {
    if (err instanceof SpecError) return err.problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`);
    throw err;
  }
  return [];
}

const spec = (body: string) => `apiVersion: mk.dev/v1alpha1
kind: Cluster
metadata: { name: dev }
spec:
${body}`;

describe('spec.images', () => {
  it('defaults to none and keeps references as written', () => {
    expect(parseSpec(spec('  nodes: [{ name: cp, role: control-plane, count: 1 }]\n'), 'c.yaml').cluster.spec.images).toEqual([]);
    expect(parseSpec(spec('  images: [nginx:1.27, mk.local/app:dev]\n'), 'c.yaml').cluster.spec.images).toEqual(['nginx:1.27', 'mk.local/app:dev']);
  });

  it('reports every bad entry, duplicates (also in another spelling) and a type error at its line:column', () => {
    expect(
      problems(
        spec(`  images:
    - nginx:1.27
    - Bad/Name
    - docker.io/library/nginx:1.27
    - app@sha256:${'0'.repeat(64)}
    - 42
`),
      ),
    ).toEqual([
      '7:7 spec.images[1]: "Bad/Name" is not an image reference like nginx:1.27 or registry.example.com/team/app:v2 (lowercase name components)',
      '8:7 spec.images[2]: image "docker.io/library/nginx:1.27" is already listed at spec.images[0] (both are docker.io/library/nginx:1.27)',
      `9:7 spec.images[3]: "app@sha256:${'0'.repeat(29)}..." names a digest: a digest pins what a registry serves, which docker save does not keep; name the image by a tag (name:tag)`,
      '10:7 spec.images[4]: must be a string, not a whole number (put it in quotes)',
    ]);
  });

  it('is refused with cri-o, at the key', () => {
    expect(problems(spec('  cri: cri-o\n  images: [nginx:1.27]\n'))).toEqual([
      '6:3 spec.images: images cannot be loaded into cri-o nodes yet (cri-o keeps images in containers/storage); use cri: containerd or docker, or load them with podman load on each node',
    ]);
  });
});

describe('addons[].images (catalog image overrides)', () => {
  it('keeps the overrides as written; absent when none are given', () => {
    const c = parseSpec(spec('  addons:\n    - name: metrics-server\n      images: { metrics-server: "mk.local/addons/metrics-server:v0.7.2" }\n    - name: storage\n'), 'c.yaml').cluster;
    expect(c.spec.addons.map((a) => a.images)).toEqual([{ 'metrics-server': 'mk.local/addons/metrics-server:v0.7.2' }, undefined]);
  });

  it('takes a digest (nodes pull it) and refuses an unknown key, a bad reference, a non-string and images on your own manifests, each at its line:column', () => {
    expect(
      problems(
        spec(`  addons:
    - name: metallb
      images:
        controler: mk.local/addons/metallb-controller:v0.14.9
        speaker: mk.local/Speaker
    - name: registry
      images:
        registry: registry.example.com/registry:3@sha256:${'a'.repeat(64)}
    - name: storage
      images: { helper: 42, provisioner: "app@sha256:abc" }
    - name: mine
      manifests: app.yaml
      images: { app: mk.local/app:v1 }
`),
      ),
    ).toEqual([
      '8:9 spec.addons[0].images.controler: unknown field "controler" (did you mean "controller"?)',
      '9:18 spec.addons[0].images.speaker: "mk.local/Speaker" is not an image reference like nginx:1.27 or registry.example.com/team/app:v2 (lowercase name components)',
      '14:25 spec.addons[2].images.helper: must be a string, not a whole number (put it in quotes)',
      '14:42 spec.addons[2].images.provisioner: "app@sha256:abc" is not an image reference: the digest "sha256:abc" is not sha256: and 64 lowercase hex digits',
      "17:7 spec.addons[3].images: images replace the images of mk's catalog addons; an addon with manifests: names its images in them (remove images)",
    ]);
  });
});
