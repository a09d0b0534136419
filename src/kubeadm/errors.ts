// The Kubernetes phase's errors, in one place. Each message says what failed and what to do.
import { MkError } from '../errors.js';

/** A kubeadm step could not go on (no admin.conf, no address, a cluster that is not usable in time). */
export class BootstrapError extends MkError {}

/** A node is not ready for kubeadm: its runtime, its kubeadm version, its resolvers. */
export class NodePrepareError extends MkError {}

/** The Kubernetes release binaries could not be downloaded or did not match their checksums. */
export class BinaryDownloadError extends MkError {}
