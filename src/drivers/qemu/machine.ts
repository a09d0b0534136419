// qemu processes on this machine: start one daemonized, tell whether it still runs, power it down
// through QMP, end it. A VM is identified by its pidfile, checked against /proc so a reused pid is
// never taken for it.
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { arch } from 'node:os';
import { DriverError } from '../../errors.js';
import { qmp } from './qmp.js';

export const QEMU_BINARY = 'qemu-system-x86_64';

/** Runs a program to its end; rejects with its stderr. */
export function runProgram(file: string, args: readonly string[], signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { signal, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(new DriverError(`${file} is not installed: the qemu driver needs qemu-system-x86 and qemu-utils (Debian/Ubuntu: apt-get install qemu-system-x86 qemu-utils)`));
      }
      reject(new DriverError(`${file} failed: ${(stderr || err.message).trim()}`, { cause: err }));
    });
  });
}

export function checkHostArch(): void {
  if (arch() !== 'x64') throw new DriverError(`the qemu driver runs x86_64 guests and needs an x86_64 machine (this one is ${arch()})`);
}

/** The pid qemu wrote, when that process is still the VM of this disk. */
export async function runningPid(pidfile: string, disk: string): Promise<number | undefined> {
  const text = await readFile(pidfile, 'utf8').catch(() => '');
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.includes(disk) ? pid : undefined;
}

/** Waits until the VM's process is gone; false after timeoutMs. */
export async function waitExit(pidfile: string, disk: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if ((await runningPid(pidfile, disk)) === undefined) return true;
    signal?.throwIfAborted();
    await new Promise((r) => setTimeout(r, 250));
  }
  return (await runningPid(pidfile, disk)) === undefined;
}

/**
 * Ends a VM: ACPI power-down first when `graceful` (the guest shuts its services down), then QMP
 * quit, then SIGKILL. Tolerates a VM that is already gone.
 */
export async function endVm(f: { pidfile: string; disk: string; qmp: string }, graceful: boolean, signal?: AbortSignal): Promise<void> {
  if ((await runningPid(f.pidfile, f.disk)) === undefined) return;
  if (graceful) {
    await qmp(f.qmp, 'system_powerdown').catch(() => undefined);
    if (await waitExit(f.pidfile, f.disk, 60_000, signal)) return;
  }
  await qmp(f.qmp, 'quit').catch(() => undefined);
  if (await waitExit(f.pidfile, f.disk, 5_000, signal)) return;
  const pid = await runningPid(f.pidfile, f.disk);
  if (pid !== undefined) process.kill(pid, 'SIGKILL');
  if (!(await waitExit(f.pidfile, f.disk, 5_000, signal))) throw new DriverError(`qemu (pid ${pid}) did not end after SIGKILL`);
}

/** Whether this process may use KVM: /dev/kvm exists and opens for reading and writing. */
export async function kvmAccessible(): Promise<boolean> {
  return access('/dev/kvm', constants.R_OK | constants.W_OK).then(() => true, () => false);
}

/** A TCP port free on 127.0.0.1 now (the kernel's pick), other than those in `avoid`. */
export async function freePort(avoid: ReadonlySet<number>): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const a = srv.address();
        srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
      });
    });
    if (port > 0 && !avoid.has(port)) return port;
  }
  throw new DriverError('no free TCP port on 127.0.0.1');
}
