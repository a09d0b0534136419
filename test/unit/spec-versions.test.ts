// Kubernetes versions in a spec: written with or without "v", refused below what mk bootstraps,
// warned above what it knows, and read from an image's tag.
import { describe, expect, it } from 'vitest';
import { DEFAULT_KUBERNETES_VERSION } from '../../src/spec/defaults.js';
import { validateCluster } from '../../src/spec/validate.js';
import { KUBERNETES_MINORS, kubernetesMinor, normalizeKubernetesVersion, untestedVersion, unsupportedVersion, versionOfImageTag } from '../../src/spec/versions.js';
import schema from '../../schema/cluster.v1alpha1.json' with { type: 'json' };

const spec = (s: Record<string, unknown>) => ({ apiVersion: 'mk.dev/v1alpha1', kind: 'Cluster', metadata: { name: 'v' }, spec: s });

describe('Kubernetes versions', () => {
  it('normalises 1.31.2 to v1.31.2 and leaves other text alone', () => {
    expect(['1.31.2', 'v1.31.2', '1.31', 'latest'].map(normalizeKubernetesVersion)).toEqual(['v1.31.2', 'v1.31.2', '1.31', 'latest']);
    expect(kubernetesMinor('1.31.2')).toBe(31);
    expect(kubernetesMinor('v2.0.0')).toBeUndefined();
  });

  it('refuses at validation a version older than mk bootstraps, not one it only creates nodes for', () => {
    expect(validateCluster(spec({ kubernetesVersion: 'v1.12.0' }))).toEqual([
      { path: 'spec.kubernetesVersion', message: 'Kubernetes v1.12.0 is older than mk bootstraps (v1.24 to v1.36): kubeadm before 1.24 lacks the configuration and control-plane taint mk uses' },
    ]);
    expect(validateCluster(spec({ kubernetesVersion: '1.23.17' }))).toHaveLength(1);
    expect(validateCluster(spec({ kubernetesVersion: 'v1.12.0', bootstrap: 'none' }))).toEqual([]);
    expect(validateCluster(spec({ kubernetesVersion: '1.24.0' }))).toEqual([]);
    expect(validateCluster(spec({ kubernetesVersion: 'v1.36' }))).toEqual([{ path: 'spec.kubernetesVersion', message: '"v1.36" is not a Kubernetes version like v1.36.3' }]);
  });

  it('warns (does not refuse) above the newest minor it knows', () => {
    expect(unsupportedVersion('v1.99.0')).toBeUndefined();
    expect(untestedVersion('v1.37.0')).toMatch(/^Kubernetes v1.37.0 is newer than mk knows \(v1.24 to v1.36\)/);
    expect(untestedVersion(DEFAULT_KUBERNETES_VERSION)).toBeUndefined();
  });

  it('knows up to its default version, and the schema says the same range and default', () => {
    expect(KUBERNETES_MINORS.newest).toBe(kubernetesMinor(DEFAULT_KUBERNETES_VERSION));
    const field = schema.properties.spec.properties.kubernetesVersion;
    expect(field.default).toBe(DEFAULT_KUBERNETES_VERSION);
    expect(field.description).toContain(`v1.${KUBERNETES_MINORS.oldest} to v1.${KUBERNETES_MINORS.newest}`);
  });

  it('reads the version an image tag names', () => {
    expect(['kindest/node:v1.31.2', 'mk.local/node:1.35.0-rc', 'localhost:5000/node:v1.30.1@sha256:ab', 'mk.local/node:dev', 'localhost:5000/node', 'x:v1.3.4.5'].map(versionOfImageTag)).toEqual([
      'v1.31.2',
      'v1.35.0',
      'v1.30.1',
      undefined,
      undefined,
      undefined,
    ]);
  });
});
