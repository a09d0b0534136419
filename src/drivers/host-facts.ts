// Reads what kills nodes on the machine whose kernel they share: the inotify limits and what one
// user's processes hold of them, free disk, the capabilities a container engine cannot give.
// Everything comes from a proc root (default /proc; MK_HOST_PROC moves it, so tests point it at fake
// files). A part that cannot be read is left out: deciding what that means is the planner's job.
import { readFile, readdir, readlink, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { InotifyFacts } from './types.js';

export const DEFAULT_PROC_ROOT = '/proc';

/** Linux capability names by number (linux/capability.h); a newer kernel's extra ones are named by number. */
const CAPABILITY_NAMES = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
  'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
  'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
  'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
  'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE',
];

const capabilityName = (n: number): string => `CAP_${CAPABILITY_NAMES[n] ?? n}`;

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function readInt(path: string): Promise<number | undefined> {
  const text = (await readText(path))?.trim();
  return text && /^\d+$/.test(text) ? Number(text) : undefined;
}

/** A status field of a process (e.g. Uid, CapBnd): its first value. */
async function statusField(procRoot: string, pid: string, field: string): Promise<string | undefined> {
  const status = await readText(join(procRoot, pid, 'status'));
  return status?.match(new RegExp(`^${field}:\\s*(\\S+)`, 'm'))?.[1];
}

const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

interface Usage {
  instances: number;
  watches: number;
  unreadable: number;
}

/** One process's inotify instances and watches, when it runs as `uid`. */
async function processUsage(procRoot: string, pid: string, uid: number, usage: Usage): Promise<void> {
  let fds: string[];
  try {
    fds = await readdir(join(procRoot, pid, 'fd'));
  } catch (err) {
    // Another user's process (mk not root): it matters only when it runs as the counted user.
    if (errno(err) === 'EACCES' && (await stat(join(procRoot, pid)).catch(() => undefined))?.uid === uid) usage.unreadable++;
    return;
  }
  const inotify: string[] = [];
  for (const fd of fds) {
    const target = await readlink(join(procRoot, pid, 'fd', fd)).catch(() => undefined);
    if (target === 'anon_inode:inotify') inotify.push(fd);
  }
  if (inotify.length === 0 || Number(await statusField(procRoot, pid, 'Uid')) !== uid) return;
  usage.instances += inotify.length;
  for (const fd of inotify) {
    const info = (await readText(join(procRoot, pid, 'fdinfo', fd))) ?? '';
    usage.watches += info.split('\n').filter((line) => line.startsWith('inotify wd:')).length;
  }
}

/**
 * fs.inotify's per-user limits and what the processes of `uid` hold now (instances: inotify file
 * descriptors; watches: their `inotify wd:` lines in fdinfo). Undefined when the limits cannot be read.
 */
export async function readInotify(procRoot: string, uid: number): Promise<InotifyFacts | undefined> {
  const dir = join(procRoot, 'sys/fs/inotify');
  const [maxUserInstances, maxUserWatches] = await Promise.all([readInt(join(dir, 'max_user_instances')), readInt(join(dir, 'max_user_watches'))]);
  if (maxUserInstances === undefined || maxUserWatches === undefined) return undefined;
  const usage: Usage = { instances: 0, watches: 0, unreadable: 0 };
  const pids = (await readdir(procRoot).catch(() => [])).filter((e) => /^\d+$/.test(e));
  await Promise.all(pids.map((pid) => processUsage(procRoot, pid, uid, usage)));
  return { maxUserInstances, maxUserWatches, uid, instancesInUse: usage.instances, watchesInUse: usage.watches, unreadable: usage.unreadable };
}

/**
 * The capabilities missing from the bounding set of the process whose pid `pidFile` holds (a
 * container engine: it cannot give a container what it lacks). Undefined when that cannot be read.
 */
export async function missingCapabilities(procRoot: string, pidFile: string): Promise<string[] | undefined> {
  const pid = (await readText(pidFile))?.trim();
  if (!pid || !/^\d+$/.test(pid)) return undefined;
  const [bounding, last] = await Promise.all([statusField(procRoot, pid, 'CapBnd'), readInt(join(procRoot, 'sys/kernel/cap_last_cap'))]);
  if (!bounding || !/^[0-9a-f]+$/i.test(bounding) || last === undefined) return undefined;
  const set = BigInt(`0x${bounding}`);
  const missing: string[] = [];
  for (let n = 0; n <= last; n++) if (((set >> BigInt(n)) & 1n) === 0n) missing.push(capabilityName(n));
  return missing;
}

/** Free bytes for an unprivileged writer on the file system holding `path`; undefined when it cannot be read. */
export async function freeBytes(path: string): Promise<number | undefined> {
  try {
    const s = await statfs(path);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

/**
 * The IPv4 networks this machine routes to directly or through a gateway (`/proc/net/route`), as
 * CIDRs, the default route left out: a cluster network on one of them would shadow it. Another
 * engine's bridges (Docker's, when the nodes run on podman) show up here, not in the engine's list.
 */
export async function routedSubnets(procRoot: string): Promise<string[]> {
  const text = await readText(join(procRoot, 'net', 'route'));
  const subnets: string[] = [];
  for (const line of (text ?? '').split('\n').slice(1)) {
    const [, dest, , , , , , mask] = line.trim().split(/\s+/);
    if (!dest || !mask || !/^[0-9A-Fa-f]{8}$/.test(dest) || !/^[0-9A-Fa-f]{8}$/.test(mask)) continue;
    // Little-endian hex: 000011AC is 172.17.0.0.
    const octets = (hex: string) => [6, 4, 2, 0].map((i) => parseInt(hex.slice(i, i + 2), 16));
    const prefix = octets(mask).reduce((bits, o) => bits + o.toString(2).replace(/0/g, '').length, 0);
    if (prefix > 0) subnets.push(`${octets(dest).join('.')}/${prefix}`);
  }
  return subnets;
}
