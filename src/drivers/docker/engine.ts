// The engines the Docker driver speaks to: Docker itself, and podman's Docker-compatible API service
// (`podman system service`). What differs between them lives here and in the few places that read
// it; the differences that need no switch (podman's 500s for conflicts, no IPAMConfig, no address of
// a stopped container) are handled for both: docker-errors.ts conflictOf, the address label.
import { SUBNET_POOL } from './ipam.js';

export interface EngineProfile {
  /** The driver's name as a spec writes it. */
  driver: 'docker' | 'podman';
  /** For messages: "the Docker engine", "the podman service". */
  title: string;
  /** The pool the cluster network's /24 is picked from when the spec names no subnet. */
  subnetPool: string;
}

export const DOCKER_ENGINE: EngineProfile = { driver: 'docker', title: 'the Docker engine', subnetPool: SUBNET_POOL };

/** podman's own pool for new networks (containers.conf default_subnet_pools): clear of Docker's 172.17-172.31. */
export const PODMAN_SUBNET_POOL = '10.89.0.0/16';

export const PODMAN_ENGINE: EngineProfile = { driver: 'podman', title: 'the podman service', subnetPool: PODMAN_SUBNET_POOL };
