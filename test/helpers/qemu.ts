// The qemu driver's test setup: the VM node image (npm run vm-image) and qemu itself. Without
// either a test file is skipped locally and fails under CI (which builds the image first).
import { execFile } from 'node:child_process';
import { access, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { defaultVmImage } from '../../src/spec/defaults.js';

const run = promisify(execFile);

/** The VM image tests boot: MK_TEST_VM_IMAGE, else where npm run vm-image writes it for the test bed's version. */
export async function testVmImage(): Promise<string | undefined> {
  const version = (await readFile(new URL('../k8s/VERSION', import.meta.url), 'utf8')).trim();
  const dir = process.env.MK_TEST_VM_IMAGE ?? defaultVmImage(version);
  const has = async (f: string) => access(join(dir, f)).then(() => true, () => false);
  const qemu = await run('qemu-system-x86_64', ['--version']).then(() => true, () => false);
  const ready = qemu && (await has('manifest.json')) && (await has('disk.qcow2'));
  if (!ready && process.env.CI) throw new Error(`no qemu-system-x86_64, or no VM image at ${dir}: sudo bash scripts/install-deps.sh && npm run node-image:k8s && npm run vm-image`);
  return ready ? dir : undefined;
}

/** qemu processes whose command line names `fragment` (a cluster's machines folder). */
export async function qemuProcesses(fragment: string): Promise<number[]> {
  const pids: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
    if (cmd.startsWith('qemu-system') && cmd.includes(fragment)) pids.push(Number(p));
  }
  return pids;
}
