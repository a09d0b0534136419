// Builds the driver a cluster spec names. Drivers load lazily so `mk --version` stays fast.
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
    case 'ssh': {
      const [{ SshDriver }, { expandNodes }] = await Promise.all([import('./ssh/driver.js'), import('../spec/nodes.js')]);
      // MK_SSH_TRUST_ON_FIRST_USE=1 is the command-line way to trust unknown hosts for one run.
      const tofu = process.env.MK_SSH_TRUST_ON_FIRST_USE;
      return new SshDriver({
        cluster: cluster.metadata.name,
        options: driver.ssh,
        nodes: expandNodes(cluster),
        cri: cluster.spec.cri,
        version: VERSION,
        ...(tofu === '1' || tofu === 'true' ? { trustOnFirstUse: true } : {}),
        ...(log ? { log } : {}),
      });
    }
  }
}
