// What mk's tests have shown of catalog addons, shared by the entries (each entry names its own).
// test/e2e/addons-catalog.test.ts installs every entry on a real kube-apiserver; test/e2e/mk-addons.test.ts
// has mk apply install some on a real kubeadm cluster. Neither pulls an image: no pod has run.
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
