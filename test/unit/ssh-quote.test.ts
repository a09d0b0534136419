import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { quoteWord, shellQuote } from '../../src/drivers/ssh/quote.js';

/** What a real POSIX shell makes of the command line: one NUL-terminated word per argument. */
function roundTrip(argv: string[], shell = '/bin/sh'): string[] {
  const line = shellQuote(['printf', '%s\\0', ...argv]);
  const out = execFileSync(shell, ['-c', line], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

const SHELLS = ['/bin/sh', '/bin/bash', '/bin/dash', '/usr/bin/zsh'].filter((s) => existsSync(s));

const NASTY = [
  '',
  ' ',
  'plain',
  "it's",
  "''",
  '"double"',
  '$HOME',
  '${PATH}',
  '`id`',
  '$(id)',
  'a;b',
  'a&&b',
  'a|b',
  '*',
  '?',
  '[a]',
  '~',
  '~root',
  '#comment',
  'new\nline',
  'tab\there',
  'back\\slash',
  '!bang',
  'a=b',
  '-n',
  '--',
  'ünïcødé ✓',
  "mixed 'single' and \"double\" $(and) `more`",
];

describe('shellQuote', () => {
  it.each(SHELLS)('survives %s byte for byte', (shell) => {
    expect(roundTrip(NASTY, shell)).toEqual(NASTY);
  });

  it('leaves safe words alone and quotes everything else', () => {
    expect(shellQuote(['kubeadm', 'join', '--config', '/etc/mk/join.yaml'])).toBe('kubeadm join --config /etc/mk/join.yaml');
    expect(quoteWord('')).toBe("''");
    expect(quoteWord("it's")).toBe(`'it'\\''s'`);
    expect(quoteWord('$(id)')).toBe("'$(id)'");
  });

  it('quotes a first word with "=" so it is a command, not an assignment', () => {
    expect(shellQuote(['A=b', 'c'])).toBe("'A=b' c");
    expect(shellQuote(['env', 'A=b', 'c'])).toBe('env A=b c');
  });

  it('refuses NUL bytes and empty commands', () => {
    expect(() => shellQuote(['a\0b'])).toThrow(/NUL/);
    expect(() => shellQuote([])).toThrow(/empty/);
  });
});
