// What mk's tests have shown of catalog addons, shared by the entries (each entry names its own).
// test/e2e/addons-catalog.test.ts installs every entry on a real kube-apiserver; test/e2e/mk-addons.test.ts
// has mk apply install some on a real kubeadm cluster, from the images `npm run addon-images` builds,
// and checks what each does (test/e2e/mk-addons.test.ts; ingress: test/e2e/mk-ingress.test.ts; registry:
// test/e2e/mk-registry.test.ts; ingress-dns: test/e2e/mk-ingress-dns.test.ts).
import type { Verified } from './types.js';

/** Objects accepted by a real kube-apiserver; no pod of it has run where mk is tested. */
export const API_ACCEPTS: Verified = {
  level: 'api',
  detail: 'a real kube-apiserver accepts its objects (installed, applied again without a change, removed exactly); its images were never pulled and its pods never ran where mk is tested',
};

/** Runs, and does its job, on a real kubeadm cluster made by mk apply. */
export const RUNS: Verified = {
  level: 'running',
  detail:
    'test/e2e/mk-addons.test.ts: mk apply installs it on a real kubeadm cluster from images built here (addons[].images), it becomes ready, and the test checks what it does (metrics-server: node metrics from the Metrics API; storage: a volume written by one pod, read back by another; MetalLB: a request from the host to a LoadBalancer address answered); a re-apply changes nothing, disabling removes exactly its objects',
};

/** ingress and the gateway-api CRDs it runs on: running on a real kubeadm cluster made by mk apply, routing requests from the host. */
export const ROUTES_FROM_HOST: Verified = {
  level: 'running',
  detail:
    'test/e2e/mk-ingress.test.ts: mk apply installs it on a real kubeadm cluster (Traefik from the image `npm run addon-images traefik` builds, named in addons[].images), it becomes ready, and an Ingress and an HTTPRoute each route requests from the host by host name and path to two backends (through the LoadBalancer address and the node\'s port 80); a re-apply changes nothing, disabling removes exactly its objects',
};

/** registry: running on a real kubeadm cluster made by mk apply, an image pushed from the host pulled by a pod. */
export const REGISTRY_PULLED: Verified = {
  level: 'running',
  detail:
    'test/e2e/mk-registry.test.ts: mk apply installs it on a real kubeadm cluster (distribution v3 from the image `npm run addon-images registry` builds, named in addons[].images), it becomes ready, an image pushed from the host to localhost:5000 through `mk tunnel` is pulled by a pod as localhost:5000/NAME:TAG (containerd\'s hosts.toml written on the node) and runs; a re-apply changes nothing, disabling removes exactly its objects',
};

/** ingress-dns: running on a real kubeadm cluster made by mk apply, answering the host's DNS queries with where Traefik answers. */
export const DNS_FROM_HOST: Verified = {
  level: 'running',
  detail:
    'test/e2e/mk-ingress-dns.test.ts: mk apply installs it on a real kubeadm cluster (CoreDNS from the image kubeadm runs, with ingress and Traefik from the image `npm run addon-images traefik` builds), it becomes ready, DNS queries from the host (UDP and TCP) to the address mk status gives answer an Ingress\'s and an HTTPRoute\'s host names with Traefik\'s address, and requests from the host to that address reach the right backend; with the LoadBalancer address, then with the node\'s after loadBalancer is turned off; a re-apply changes nothing, disabling removes exactly its objects',
};
