// The framework's images that cannot be on the nodes, and why: everything the framework names
// minus what scripts/conformance-build.sh built and what the node image holds (kubeadm's images).
import type { FrameworkImage } from './framework-images.js';

/** Why an image is not built here (facts about its upstream recipe); others get a generic reason. */
const REASONS: Record<string, string> = {
  AgnhostPrivate: 'lives in an authenticated registry on purpose (gcr.io/k8s-authenticated-test)',
  InvalidRegistryImage: 'must not exist (specs expect the pull to fail)',
  AppArmorLoader: 'AppArmor is not available in node containers here',
  DistrolessIptables: 'a kube-proxy build image (distroless + iptables): not built yet',
  IpcUtils: 'alpine + util-linux: not built yet',
  NFSProvisioner: 'external nfs-provisioner (github.com/kubernetes-sigs/nfs-ganesha-server-and-external-provisioner): not built',
  NodePerfNpbEp: 'NAS parallel benchmark binaries: no source here',
  NodePerfNpbIs: 'NAS parallel benchmark binaries: no source here',
  NodePerfPytorchWideDeep: 'PyTorch model: no source here',
  Perl: 'the official perl image: not built yet (Debian perl could stand in)',
  RegressionIssue74839: 'test/images/regression-issue-74839: not built yet',
  ResourceConsumer: 'test/images/resource-consumer: not built yet',
  VolumeNFSServer: 'an NFS server needs the nfsd kernel module in node containers',
  VolumeISCSIServer: 'an iSCSI target needs kernel support in node containers',
};

export interface Unavailable {
  id: string;
  image: string;
  reason: string;
}

export function unavailableImages(framework: readonly FrameworkImage[], built: readonly string[], onNodes: readonly string[]): Unavailable[] {
  const have = new Set([...built, ...onNodes]);
  return framework
    .filter((f) => !have.has(f.image))
    .map((f) => ({ id: f.id, image: f.image, reason: REASONS[f.id] ?? 'not built by scripts/conformance-build.sh' }));
}
