// The help mk prints: examples in every command, the global options, environment variables and exit
// codes listed once at the top; and the command table the completion scripts are made from.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram, completionModel } from '../../src/cli.js';
import type { CommandModel } from '../../src/commands/completion.js';
import { EXIT } from '../../src/errors.js';

const ROOT = join(import.meta.dirname, '../..');

/** The program and every command below it, subcommands included. */
function allCommands(cmd: Command): Command[] {
  return [cmd, ...cmd.commands.flatMap(allCommands)];
}

function program(): Command {
  const p = buildProgram({ version: '1.2.3', argv: [], run: async () => {} });
  for (const c of allCommands(p)) c.exitOverride();
  return p;
}

/** What `mk ...ARGS --help` prints. */
function help(...path: string[]): string {
  let out = '';
  const p = program();
  const write = { writeOut: (s: string) => (out += s), writeErr: (s: string) => (out += s) };
  for (const c of allCommands(p)) c.configureOutput(write);
  try {
    p.parse([...path, '--help'], { from: 'user' });
  } catch {
    // exitOverride: help ends with a CommanderError of exit code 0
  }
  return out;
}

function commandPaths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((c) => [[...prefix, c.name()], ...commandPaths(c, [...prefix, c.name()])]);
}

/** Every environment variable src/ reads: process.env.X, env.X and env['X'] (env: a parameter defaulting to process.env). */
async function envVarsRead(dir = join(ROOT, 'src')): Promise<Set<string>> {
  const names = new Set<string>();
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !e.name.endsWith('.ts')) continue;
    const text = await readFile(join(e.parentPath, e.name), 'utf8');
    for (const m of text.matchAll(/\benv(?:\.|\[')([A-Z][A-Z0-9_]+)/g)) names.add(m[1]!);
  }
  return names;
}

describe('mk --help', () => {
  it('lists every environment variable mk reads', async () => {
    const text = help();
    const read = await envVarsRead();
    expect(read).toContain('MK_HOME');
    expect(read).toContain('DOCKER_HOST');
    for (const name of read) expect(text, name).toMatch(new RegExp(`^  .*\\b${name}\\b`, 'm'));
    expect(text).toContain('KUBECONFIG');
    expect(text).toContain('DOCKER_CONTEXT');
  });

  it('lists every exit code', () => {
    const text = help().split('Exit codes:')[1]!;
    for (const code of Object.values(EXIT)) expect(text).toMatch(new RegExp(`^  ${code}\\s+\\S`, 'm'));
  });

  it('shows the global options once, at the top, and only a pointer to them in each command', () => {
    expect(help()).toMatch(/^Global options \(before or after the command\):\n {2}--version[\s\S]*--trust-new-host-keys/m);
    for (const path of commandPaths(program())) {
      const text = help(...path);
      expect(text, path.join(' ')).not.toContain('--trust-new-host-keys ');
      expect(text, path.join(' ')).toContain('Global options (-o, -v, --trust-new-host-keys): mk --help');
    }
  });

  it('gives every command examples of mk command lines', () => {
    for (const path of [[], ...commandPaths(program())]) {
      const text = help(...path);
      const examples = text.split('\nExamples:\n')[1];
      expect(examples, `mk ${path.join(' ')} --help:\n${text}`).toBeDefined();
      expect(examples, path.join(' ')).toMatch(/^ {2}# .+\n {2}(mk |source |cat |echo )/m);
    }
  });

  it('refuses -o name outside mk list, naming the formats that command prints', async () => {
    const p = program();
    let err = '';
    p.configureOutput({ writeErr: (s) => (err += s), writeOut: () => {} });
    for (const c of p.commands) c.configureOutput({ writeErr: (s) => (err += s), writeOut: () => {} });
    await expect(p.parseAsync(['status', '-o', 'name'], { from: 'user' })).rejects.toThrow();
    expect(err).toContain('-o name is for mk list (mk get clusters); mk status prints text, json or yaml');
  });
});

describe('the command table for completion', () => {
  const root = completionModel(program());
  const cmd = (name: string): CommandModel => root.commands.find((c) => c.name === name)!;

  it('has every command with its aliases, and the global options at the root', () => {
    expect(root.commands.map((c) => c.name)).toEqual(expect.arrayContaining(['plan', 'apply', 'status', 'list', 'get', 'init', 'schema', 'completion', 'version']));
    expect(cmd('list').aliases).toEqual(['ls']);
    expect(root.flags.find((f) => f.names.includes('--output'))).toEqual(expect.objectContaining({ names: ['-o', '--output'], value: ['text', 'json', 'yaml', 'name'] }));
    expect(root.flags.find((f) => f.names.includes('--verbose'))?.value).toBeUndefined();
  });

  it('knows what each value and argument completes to', () => {
    expect(cmd('status').args).toEqual(['cluster']);
    expect(cmd('kubeconfig').args).toEqual(['cluster']);
    expect(cmd('init').args).toEqual(['none']);
    expect(cmd('get').args).toEqual([['clusters', 'cluster']]);
    expect(cmd('completion').args).toEqual([['bash', 'zsh', 'fish']]);
    expect(cmd('apply').flags.find((f) => f.names.includes('--file'))?.value).toBe('file');
    expect(cmd('logs').flags.find((f) => f.names.includes('--output-dir'))?.value).toBe('dir');
    expect(cmd('init').flags.find((f) => f.names.includes('--addon'))?.value).toBe('addon');
    expect(cmd('apply').flags.find((f) => f.names.includes('--dry-run'))?.value).toBeUndefined();
    expect(cmd('apply').flags.find((f) => f.names.includes('--help'))).toBeDefined();
  });
});
