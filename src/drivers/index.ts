// Builds the driver a cluster spec names. Drivers load lazily so `mk --version` stays fast.
import { DriverError } from '../errors.js';
import type { Cluster, DockerDriverOptions } from '../spec/types.js';
import { VERSION } from '../version.js';
import type { Driver } from './types.js';

export type DebugLog = (message: string, context?: Record<string, unknown>) => void;

export async function dockerDriver(options: Partial<DockerDriverOptions>, log?: DebugLog): Promise<Driver> {
  const { DockerDriver } = await import('./docker/driver.js');
  return new DockerDriver({ options: { image: '', privileged: true, ...options }, version: VERSION, ...(log ? { log } : {}) });
}

export async function driverFor(cluster: Cluster, log?: DebugLog): Promise<Driver> {
  const driver = cluster.spec.driver;
  switch (driver.name) {
    case 'docker':
      return dockerDriver(driver.docker, log);
    case 'ssh':
      throw new DriverError(`cluster "${cluster.metadata.name}": the ssh driver is not implemented yet (issue 6); use driver: docker`);
  }
}
