// Host-key checking as OpenSSH does it: known_hosts lines (plain, wildcard, negated and hashed host
// patterns, the [host]:port form, @revoked), pinned SHA256 fingerprints, and the decision for one
// presented key (pure); then KnownHosts, the run's view of the files: read once before the first
// connection, a key trusted on first use appended after it.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { expandPath, localUserName } from './ssh-config.js';
import type { Endpoint } from './ssh-config.js';

export interface KnownHostEntry {
  /** 1-based line number, for messages. */
  line: number;
  marker?: 'revoked' | 'cert-authority';
  /** Comma-separated patterns, or one hashed |1|salt|hash entry. */
  hosts: string;
  keyType: string;
  /** The key blob (SSH wire format). */
  key: Buffer;
}

/** SHA256:<base64 without padding>, as `ssh-keygen -lf` prints it. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named inside an SSH public-key blob (e.g. ssh-ed25519), or '' when unreadable. */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) return '';
  const len = key.readUInt32BE(0);
  if (len > 64 || key.length < 4 + len) return '';
  return key.subarray(4, 4 + len).toString('latin1');
}

/** The name a host is looked up under: host for port 22, [host]:port otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0]?.startsWith('@')) {
      const m = fields.shift();
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else return;
    }
    const [hosts, keyType, b64] = fields;
    if (!hosts || !keyType || !b64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return;
    entries.push({ line: i + 1, ...(marker ? { marker } : {}), hosts, keyType, key: Buffer.from(b64, 'base64') });
  });
  return entries;
}

function globToRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

function hashedMatches(entry: string, name: string): boolean {
  const parts = entry.split('|'); // ['', '1', salt, hash]
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2]!, 'base64');
  const want = Buffer.from(parts[3]!, 'base64');
  const got = createHmac('sha1', salt).update(name).digest();
  return want.length === got.length && timingSafeEqual(want, got);
}

/** Whether an entry's host field matches a name ("host" or "[host]:port"). A negated match wins. */
export function hostsMatch(hosts: string, name: string): boolean {
  if (hosts.startsWith('|')) return hashedMatches(hosts, name);
  let matched = false;
  for (const pattern of hosts.split(',')) {
    if (pattern === '') continue;
    const negated = pattern.startsWith('!');
    const p = negated ? pattern.slice(1) : pattern;
    if (globToRegExp(p).test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** A hashed known_hosts host field for a name (what `ssh-keygen -H` writes). */
export function hashHostName(name: string, salt: Buffer = randomBytes(20)): string {
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

/** One known_hosts line for a key (plain host field). */
export function knownHostsLine(name: string, key: Buffer): string {
  return `${name} ${keyTypeOf(key)} ${key.toString('base64')}`;
}

export type HostKeyVerdict =
  | { status: 'trusted'; by: 'pinned' | 'known_hosts'; fingerprint: string }
  | { status: 'unknown'; fingerprint: string }
  | { status: 'changed'; fingerprint: string; expected: string[]; by: 'pinned' | 'known_hosts' }
  | { status: 'revoked'; fingerprint: string };

/**
 * The decision for a presented key. A pin, when given, is the only authority; otherwise known_hosts
 * entries for any of the names: a key equal to one of them is trusted, a host with entries but none
 * equal has CHANGED (whatever the key types), a host with none is unknown. A revoked key always fails.
 */
export function verifyHostKey(input: { names: readonly string[]; key: Buffer; entries: readonly KnownHostEntry[]; pinned?: string }): HostKeyVerdict {
  const fp = fingerprint(input.key);
  const mine = input.entries.filter((e) => e.marker !== 'cert-authority' && input.names.some((n) => hostsMatch(e.hosts, n)));
  if (mine.some((e) => e.marker === 'revoked' && e.key.equals(input.key))) return { status: 'revoked', fingerprint: fp };
  if (input.pinned !== undefined) {
    const pin = input.pinned.replace(/=+$/, '');
    return pin === fp ? { status: 'trusted', by: 'pinned', fingerprint: fp } : { status: 'changed', fingerprint: fp, expected: [pin], by: 'pinned' };
  }
  const known = mine.filter((e) => e.marker === undefined);
  if (known.some((e) => e.key.equals(input.key))) return { status: 'trusted', by: 'known_hosts', fingerprint: fp };
  if (known.length > 0) {
    return { status: 'changed', fingerprint: fp, expected: [...new Set(known.map((e) => `${fingerprint(e.key)} (${e.keyType})`))], by: 'known_hosts' };
  }
  return { status: 'unknown', fingerprint: fp };
}

const GLOBAL_KNOWN_HOSTS = '/etc/ssh/ssh_known_hosts';

export interface KnownHostsConfig {
  /** spec.driver.ssh.knownHostsFile; default ~/.ssh/known_hosts plus the system-wide file. */
  file: string | undefined;
  /** Local home directory (for ~). */
  home: string;
  /** spec.driver.ssh.hostKeys: alias or address -> SHA256 fingerprint. */
  pinned: Record<string, string> | undefined;
  trustOnFirstUse: boolean;
  log: (message: string, context?: Record<string, unknown>) => void;
}

export class KnownHosts {
  private text = '';
  private loaded: Promise<void> | undefined;
  private readonly pending: string[] = [];

  constructor(private readonly config: KnownHostsConfig) {}

  /** The user's file (the one TOFU appends to). */
  get path(): string {
    return expandPath(this.config.file ?? '~/.ssh/known_hosts', { home: this.config.home, localUser: localUserName() });
  }

  /** Reads the files once; call before the first connection. */
  load(): Promise<void> {
    // The user's file, plus the system-wide one when the spec names no file (as OpenSSH reads both).
    const files = [this.path, ...(this.config.file === undefined ? [GLOBAL_KNOWN_HOSTS] : [])];
    this.loaded ??= Promise.all(files.map((f) => readFile(f, 'utf8').catch(() => ''))).then((texts) => {
      const text = texts.map((t) => (t === '' || t.endsWith('\n') ? t : `${t}\n`)).join('');
      this.text = text + this.text;
    });
    return this.loaded;
  }

  /** ssh2's host verifier (synchronous): undefined to accept the key, else why it is refused. */
  check(e: Endpoint, key: Buffer): string | undefined {
    const names = [...new Set([knownHostsName(e.hostname, e.port), knownHostsName(e.alias, e.port)])];
    const pinned = this.config.pinned?.[e.alias] ?? this.config.pinned?.[e.hostname];
    const v = verifyHostKey({ names, key, entries: parseKnownHosts(this.text), ...(pinned !== undefined ? { pinned } : {}) });
    const where = `${e.alias}${e.alias !== e.hostname ? ` (${e.hostname})` : ''}${e.port === 22 ? '' : ` port ${e.port}`}`;
    switch (v.status) {
      case 'trusted':
        return undefined;
      case 'revoked':
        return `host key of ${where} is REVOKED in ${this.path} (${v.fingerprint}); refusing to connect`;
      case 'changed':
        return (
          `host key of ${where} has CHANGED: the host presented ${v.fingerprint}, ${v.by === 'pinned' ? 'spec.driver.ssh.hostKeys pins' : `${this.path} has`} ${v.expected.join(', ')}. ` +
          `This may be an attack or a reinstalled host; refusing to connect. If the change is expected, update ${v.by === 'pinned' ? 'the pinned fingerprint' : `the entry (ssh-keygen -R ${names[0]})`}.`
        );
      case 'unknown': {
        if (this.config.trustOnFirstUse) {
          const line = knownHostsLine(names[0]!, key) + '\n';
          this.text += line;
          this.pending.push(line);
          this.config.log('ssh host key trusted on first use', { host: where, fingerprint: v.fingerprint });
          return undefined;
        }
        return (
          `host ${where} is unknown: its key ${v.fingerprint} is not in ${this.path} and not pinned. ` +
          `Verify it, then add it to known_hosts (ssh-keyscan), pin it in spec.driver.ssh.hostKeys, or set spec.driver.ssh.trustOnFirstUse: true`
        );
      }
    }
  }

  /** Appends the keys trusted on first use since the last call to the user's file. */
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const lines = this.pending.splice(0).join('');
    const file = this.path;
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await appendFile(file, lines, { mode: 0o600 });
  }
}
