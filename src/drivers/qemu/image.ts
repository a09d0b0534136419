// The VM node image a qemu cluster boots: a folder as `npm run vm-image` writes it (kernel, initrd,
// root disk, manifest). Nodes get a copy-on-write overlay of the disk, so the folder must stay.
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DriverError } from '../../errors.js';

export interface VmImage {
  dir: string;
  kernel: string;
  initrd: string;
  disk: string;
  /** What the build made it from (the build's input hash, else the node image's ID): a node's overlay fits only the disk of the same id. */
  id: string;
  kubernetesVersion?: string;
}

export async function readVmImage(dir: string): Promise<VmImage> {
  const img = { dir, kernel: join(dir, 'vmlinuz'), initrd: join(dir, 'initrd.img'), disk: join(dir, 'disk.qcow2') };
  const missing: string[] = [];
  for (const f of [img.kernel, img.initrd, img.disk, join(dir, 'manifest.json')]) {
    if (!(await access(f).then(() => true, () => false))) missing.push(f);
  }
  if (missing.length > 0) {
    throw new DriverError(`VM image ${dir} is incomplete or missing (no ${missing.map((m) => m.slice(dir.length + 1)).join(', ')}): build it with "npm run vm-image" in mk's checkout, or set spec.driver.qemu.image to a folder that has one`);
  }
  let manifest: { inputHash?: string; nodeImageId?: string; kubernetesVersion?: string };
  try {
    manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as typeof manifest;
  } catch (err) {
    throw new DriverError(`VM image ${dir}: manifest.json is not JSON (${(err as Error).message}); build it again with "npm run vm-image"`);
  }
  return { ...img, id: manifest.inputHash ?? manifest.nodeImageId ?? 'unknown', ...(manifest.kubernetesVersion ? { kubernetesVersion: manifest.kubernetesVersion } : {}) };
}
