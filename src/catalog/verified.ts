// What mk's tests have shown of catalog addons, shared by the entries (each entry names its own).
// test/e2e/addons-catalog.test.ts installs every entry on a real kube-apiserver; test/e2e/mk-addons.test.ts
// has mk apply install some on a real kubeadm cluster; test/e2e/mk-ingress.test.ts runs ingress there
// from a locally built image and checks that it routes.
import type { Verified } from './types.js';

const NEVER_RAN = 'its images were never pulled and its pods never ran where mk is tested';

/** Objects accepted by a real kube-apiserver. */
export const API_ACCEPTS: Verified = {
  level: 'api',
  detail: `a real kube-apiserver accepts its objects (installed, applied again without a change, removed exactly); ${NEVER_RAN}`,
};

/** Installed by mk apply on a real kubeadm cluster, besides the API server check. */
export const MK_APPLIED: Verified = {
  level: 'mk-apply',
  detail: `mk apply installs, repairs and removes it on a real kubeadm cluster, and a real kube-apiserver accepts its objects; ${NEVER_RAN}`,
};

/** ingress and the gateway-api CRDs it runs on: running on a real kubeadm cluster made by mk apply, routing requests from the host. */
export const ROUTES_FROM_HOST: Verified = {
  level: 'running',
  detail:
    'test/e2e/mk-ingress.test.ts: mk apply installs it on a real kubeadm cluster (Traefik from the image `npm run addon-images traefik` builds, named in addons[].images), it becomes ready, and an Ingress and an HTTPRoute each route requests from the host by host name and path to two backends (through the LoadBalancer address and the node\'s port 80); a re-apply changes nothing, disabling removes exactly its objects',
};
