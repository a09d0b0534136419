// What `npm run addon-images` (scripts/addon-images.sh) builds on a machine without a registry, by
// the upstream repository each image stands for: the references addons[].images can name in place of
// the catalog's. test/integration/addon-images.test.ts holds this table equal to the script's list.
export const LOCAL_BUILDS: Readonly<Record<string, string>> = {
  'registry.k8s.io/metrics-server/metrics-server': 'mk.local/addons/metrics-server:v0.7.2',
  'quay.io/metallb/controller': 'mk.local/addons/metallb-controller:v0.14.9',
  'quay.io/metallb/speaker': 'mk.local/addons/metallb-speaker:v0.14.9',
  'docker.io/rancher/local-path-provisioner': 'mk.local/addons/local-path-provisioner:v0.0.30',
  'docker.io/library/busybox': 'mk.local/addons/busybox:1.35.0',
  'registry.k8s.io/sig-storage/snapshot-controller': 'mk.local/addons/snapshot-controller:v8.2.0',
  'registry.k8s.io/sig-storage/csi-snapshotter': 'mk.local/addons/csi-snapshotter:v8.2.0',
  'docker.io/library/registry': 'mk.local/addons/registry:3.1.2',
  'docker.io/library/traefik': 'mk.local/addons/traefik:v3.6.12',
};

/** `registry.k8s.io/x/y:v1@sha256:...` -> `registry.k8s.io/x/y` (catalog references are written in full). */
export const repositoryOf = (ref: string): string => ref.replace(/@sha256:[0-9a-f]+$/, '').replace(/:[^/:]+$/, '');

/** The image `npm run addon-images` builds to stand for a catalog reference, if it builds one. */
export const localBuildFor = (ref: string): string | undefined => LOCAL_BUILDS[repositoryOf(ref)];
