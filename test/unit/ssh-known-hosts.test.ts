import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ed25519KeyPair } from '../../src/drivers/ssh/keygen.js';
import { fingerprint, hashHostName, hostsMatch, keyTypeOf, knownHostsLine, knownHostsName, parseKnownHosts, verifyHostKey } from '../../src/drivers/ssh/known-hosts.js';

function publicBlob(): { blob: Buffer; line: string } {
  const pair = ed25519KeyPair('test');
  const line = pair.public.trim();
  return { blob: Buffer.from(line.split(' ')[1]!, 'base64'), line };
}

const dir = mkdtempSync(join(tmpdir(), 'mk-kh-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const hasKeygen = (() => {
  try {
    execFileSync('ssh-keygen', ['-?'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    return (err as { status?: number }).status !== undefined && (err as { code?: string }).code !== 'ENOENT';
  }
})();

describe('fingerprints', () => {
  it.runIf(hasKeygen)('keys mk makes are all OpenSSH keys (ssh2 alone makes a broken one about every 128th)', () => {
    for (let i = 0; i < 400; i++) {
      const pair = ed25519KeyPair('test');
      expect(Buffer.from(pair.public.split(' ')[1]!, 'base64')).toHaveLength(51);
      if (i % 100 === 0) {
        writeFileSync(join(dir, 'p'), pair.private, { mode: 0o600 });
        const derived = execFileSync('ssh-keygen', ['-y', '-f', join(dir, 'p')], { encoding: 'utf8' }).trim();
        expect(derived.split(' ').slice(0, 2)).toEqual(pair.public.split(' ').slice(0, 2));
      }
    }
  });

  it.runIf(hasKeygen)('match ssh-keygen -lf', () => {
    const { blob, line } = publicBlob();
    const file = join(dir, 'k.pub');
    writeFileSync(file, line + '\n');
    const out = execFileSync('ssh-keygen', ['-lf', file], { encoding: 'utf8' });
    expect(out.split(' ')[1]).toBe(fingerprint(blob));
    expect(keyTypeOf(blob)).toBe('ssh-ed25519');
  });
});

describe('known_hosts matching', () => {
  it('uses [host]:port for ports other than 22', () => {
    expect(knownHostsName('10.0.0.1', 22)).toBe('10.0.0.1');
    expect(knownHostsName('10.0.0.1', 2222)).toBe('[10.0.0.1]:2222');
  });

  it('matches plain, wildcard and negated patterns, case-insensitively', () => {
    expect(hostsMatch('web1,10.0.0.1', '10.0.0.1')).toBe(true);
    expect(hostsMatch('*.example.com', 'NODE.example.com')).toBe(true);
    expect(hostsMatch('10.0.0.?', '10.0.0.7')).toBe(true);
    expect(hostsMatch('10.0.0.*,!10.0.0.7', '10.0.0.7')).toBe(false);
    expect(hostsMatch('10.0.0.1', '[10.0.0.1]:2222')).toBe(false);
    expect(hostsMatch('[10.0.0.1]:2222', '[10.0.0.1]:2222')).toBe(true);
  });

  it('matches hashed entries', () => {
    const hashed = hashHostName('[10.0.0.1]:2222');
    expect(hostsMatch(hashed, '[10.0.0.1]:2222')).toBe(true);
    expect(hostsMatch(hashed, '10.0.0.1')).toBe(false);
  });

  it.runIf(hasKeygen)('reads entries hashed by ssh-keygen -H', () => {
    const { blob } = publicBlob();
    const file = join(dir, 'known_hosts');
    writeFileSync(file, `${knownHostsLine('[192.0.2.9]:2200', blob)}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    const entries = parseKnownHosts(readFileSync(file, 'utf8'));
    expect(entries).toHaveLength(1);
    expect(entries[0]!.hosts.startsWith('|1|')).toBe(true);
    expect(verifyHostKey({ names: ['[192.0.2.9]:2200'], key: blob, entries }).status).toBe('trusted');
  });

  it('skips comments, blank and malformed lines, keeps markers', () => {
    const { blob } = publicBlob();
    const text = `# comment\n\nbroken-line\n@revoked * ${keyTypeOf(blob)} ${blob.toString('base64')}\n@cert-authority *.lab ssh-ed25519 AAAA\nh1 ssh-ed25519 ${blob.toString('base64')} c\n`;
    const entries = parseKnownHosts(text);
    expect(entries.map((e) => [e.line, e.marker ?? '', e.hosts])).toEqual([
      [4, 'revoked', '*'],
      [5, 'cert-authority', '*.lab'],
      [6, '', 'h1'],
    ]);
  });
});

describe('verifyHostKey', () => {
  const a = publicBlob().blob;
  const b = publicBlob().blob;
  const entries = parseKnownHosts(`${knownHostsLine('10.0.0.1', a)}\n${knownHostsLine('[10.0.0.2]:2222', a)}\n`);

  it('trusts a known key, refuses a changed one naming both fingerprints, reports unknown hosts', () => {
    expect(verifyHostKey({ names: ['10.0.0.1'], key: a, entries })).toMatchObject({ status: 'trusted', by: 'known_hosts' });
    const changed = verifyHostKey({ names: ['10.0.0.1'], key: b, entries });
    expect(changed).toMatchObject({ status: 'changed', fingerprint: fingerprint(b) });
    expect(changed.status === 'changed' && changed.expected[0]).toContain(fingerprint(a));
    expect(verifyHostKey({ names: ['10.0.0.9'], key: a, entries })).toEqual({ status: 'unknown', fingerprint: fingerprint(a) });
    expect(verifyHostKey({ names: ['10.0.0.2'], key: a, entries }).status).toBe('unknown');
    expect(verifyHostKey({ names: ['[10.0.0.2]:2222'], key: a, entries }).status).toBe('trusted');
  });

  it('a pin is the only authority', () => {
    expect(verifyHostKey({ names: ['10.0.0.9'], key: a, entries: [], pinned: fingerprint(a) })).toMatchObject({ status: 'trusted', by: 'pinned' });
    expect(verifyHostKey({ names: ['10.0.0.9'], key: a, entries: [], pinned: `${fingerprint(a)}=` }).status).toBe('trusted');
    expect(verifyHostKey({ names: ['10.0.0.1'], key: a, entries, pinned: fingerprint(b) })).toMatchObject({ status: 'changed', expected: [fingerprint(b)], by: 'pinned' });
  });

  it('a revoked key fails even when pinned', () => {
    const revoked = parseKnownHosts(`@revoked 10.0.0.1 ${keyTypeOf(a)} ${a.toString('base64')}\n`);
    expect(verifyHostKey({ names: ['10.0.0.1'], key: a, entries: revoked, pinned: fingerprint(a) }).status).toBe('revoked');
  });
});
