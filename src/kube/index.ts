// The Kubernetes API for the rest of mk: one client (client.ts), its credentials (kubeconfig.ts),
// errors (errors.ts), what is worth retrying (retry.ts) and the JSON shapes mk reads (types.ts).
// Port-forwarding (port-forward.ts) loads @kubernetes/client-node and is reached through
// KubeClient.portForwarder() only.
export { KubeClient, FIELD_MANAGER, type ClientOptions, type Method, type RequestOptions, type Response } from './client.js';
export { KubeApiError, KubeConnectionError, KubeconfigError } from './errors.js';
export { kubeconfigCredentials, type Credentials } from './kubeconfig.js';
export type { PodPort, PortForwarder } from './port-forward.js';
export { podReady, podReason, type Pod } from './pods.js';
export { isTransient } from './retry.js';
export type { ApiResource, ConfigMap, CustomResourceDefinition, KubeEvent, KubeObject, ObjectMeta, ObjectRef } from './types.js';
