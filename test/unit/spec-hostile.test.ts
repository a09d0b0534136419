// Hostile specs are refused at validation, before anything is created: manifest paths that leave
// the spec's folder (.., symlinks), options where an addon has none, and files too large or whose
// YAML aliases expand past the limit (billion laughs), each quickly and with its line:column.
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpecError } from '../../src/errors.js';
import type { SpecProblem } from '../../src/errors.js';
import { ManifestOutsideError } from '../../src/manifests/errors.js';
import { resolveLocalManifests } from '../../src/manifests/load.js';
import { SPEC_LIMITS } from '../../src/spec/bounds.js';
import { loadSpecs, parseSpecs, readSpecSource } from '../../src/spec/load.js';
import { billionLaughs } from '../helpers/spec.js';

const HEAD = 'apiVersion: mk.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: hostile\n';
const CM = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n';

/** What a spec source is refused with: [path, line, column, message] of each problem. */
async function refused(load: () => unknown): Promise<[string, number, number, string][]> {
  try {
    await load();
  } catch (err) {
    if (err instanceof SpecError) return err.problems.map((p: SpecProblem) => [p.path, p.line, p.column, p.message]);
    throw err;
  }
  throw new Error('expected a SpecError');
}

/** Like refused, and it takes less than a second. */
async function refusedQuickly(load: () => unknown): Promise<[string, number, number, string][]> {
  const t0 = performance.now();
  const problems = await refused(load);
  expect(performance.now() - t0).toBeLessThan(1000);
  return problems;
}

describe('manifest paths leaving the spec folder', () => {
  it('refuses any .. segment from the text alone (parseSpecs), with line:column', async () => {
    const text = `${HEAD}spec:\n  networking:\n    cni: cni\\..\\..\\calico.yaml\n  addons:\n    - name: up\n      manifests: ../secret.yaml\n    - name: round-trip\n      manifests: app/../app.yaml\n`;
    const must = (what: string, value: string) => `${what} ${JSON.stringify(value)} must not contain "..": it names a file in the spec's folder or below`;
    expect(await refused(() => parseSpecs(text, 'c.yaml'))).toEqual([
      ['spec.networking.cni', 7, 10, must('cni (auto, none or a manifest path)', 'cni\\..\\..\\calico.yaml')],
      ['spec.addons[0].manifests', 10, 18, must('manifests', '../secret.yaml')],
      ['spec.addons[1].manifests', 12, 18, must('manifests', 'app/../app.yaml')],
    ]);
  });

  describe('through the file system (loadSpecs)', () => {
    let root: string;
    let dir: string;
    const spec = async (name: string, body: string): Promise<string> => {
      const file = path.join(dir, name);
      await writeFile(file, `${HEAD}spec:\n${body}`);
      return file;
    };
    beforeAll(async () => {
      root = await mkdtemp(path.join(tmpdir(), 'mk-hostile-'));
      dir = path.join(root, 'spec');
      await mkdir(path.join(root, 'outside'), { recursive: true });
      await writeFile(path.join(root, 'outside', 'secret.yaml'), CM);
      await mkdir(path.join(dir, 'app'), { recursive: true });
      await writeFile(path.join(dir, 'app', 'cm.yaml'), CM);
      await symlink(path.join(root, 'outside', 'secret.yaml'), path.join(dir, 'link.yaml'));
      await symlink(path.join(root, 'outside'), path.join(dir, 'linkdir'));
      await mkdir(path.join(dir, 'sneaky'));
      await writeFile(path.join(dir, 'sneaky', 'ok.yaml'), CM);
      await symlink(path.join(root, 'outside', 'secret.yaml'), path.join(dir, 'sneaky', 'inner.yaml'));
      await symlink(path.join(dir, 'app', 'cm.yaml'), path.join(dir, 'inside.yaml'));
    });
    afterAll(async () => {
      await rm(root, { recursive: true, force: true });
    });

    it('refuses a symlink, a file (present or not) under a symlinked folder and a symlink inside a manifests folder, each at its value', async () => {
      const file = await spec(
        'c.yaml',
        '  networking:\n    cni: linkdir/secret.yaml\n  addons:\n    - name: link\n      manifests: link.yaml\n    - name: missing\n      manifests: linkdir/missing.yaml\n    - name: sneaky\n      manifests: sneaky\n',
      );
      const outside = path.join(root, 'outside');
      const base = dir;
      const through = (rel: string, real: string) => `manifests "${rel}" resolves to ${real}, outside the spec's folder ${base} (through a symlink)`;
      expect(await refused(() => loadSpecs(file))).toEqual([
        ['spec.networking.cni', 7, 10, through('linkdir/secret.yaml', path.join(outside, 'secret.yaml'))],
        ['spec.addons[0].manifests', 10, 18, through('link.yaml', path.join(outside, 'secret.yaml'))],
        ['spec.addons[1].manifests', 12, 18, through('linkdir/missing.yaml', outside)],
        ['spec.addons[2].manifests', 14, 18, through('sneaky/inner.yaml', path.join(outside, 'secret.yaml'))],
      ]);
    });

    it('accepts paths that stay inside, symlinks included, and leaves a missing file to apply', async () => {
      const file = await spec('ok.yaml', '  addons:\n    - name: a\n      manifests: app\n    - name: b\n      manifests: inside.yaml\n    - name: c\n      manifests: not-yet.yaml\n');
      const [loaded] = await loadSpecs(file);
      expect(loaded!.cluster.spec.addons.map((a) => a.manifests)).toEqual(['app', 'inside.yaml', 'not-yet.yaml']);
    });

    it('parseSpecs stays pure: it does not look at the file system', async () => {
      expect(parseSpecs(`${HEAD}spec:\n  addons:\n    - name: link\n      manifests: link.yaml\n`, path.join(dir, 'c.yaml'))).toHaveLength(1);
    });

    it('the manifests loader still refuses them when it reads them (second line of defence)', async () => {
      for (const rel of ['link.yaml', 'linkdir/secret.yaml', 'linkdir/missing.yaml', 'sneaky', '../outside/secret.yaml']) {
        await expect(resolveLocalManifests(dir, rel)).rejects.toBeInstanceOf(ManifestOutsideError);
      }
    });
  });
});

describe('options of an addon with manifests', () => {
  it('are refused at the options key', async () => {
    const text = `${HEAD}spec:\n  addons:\n    - name: mine\n      manifests: app.yaml\n      options:\n        replicas: 2\n    - name: empty\n      manifests: app.yaml\n      options: {}\n`;
    const message = "options are for addons of mk's catalog; an addon with manifests: has none (remove options)";
    expect(await refused(() => parseSpecs(text, 'c.yaml'))).toEqual([
      ['spec.addons[0].options', 9, 7, message],
      ['spec.addons[1].options', 13, 7, message],
    ]);
  });
});

/**
 * Where the laughs are refused: the second alias on the a4 line (a1 to a3 and a4[0] add 15,670
 * values, a4[1] 7,381 more, past 20,000).
 */
function fourthLevel(text: string, path: string): [string, number, number] {
  const lines = text.split('\n');
  const line = lines.findIndex((l) => l.includes('a4: &a4')) + 1;
  const column = lines[line - 1]!.indexOf('*a3', lines[line - 1]!.indexOf('*a3') + 1) + 1;
  return [`${path}.a4[1]`, line, column];
}

const LAUGHS = 'YAML aliases expand the file past 20000 values (a "billion laughs" document?); write the values out or use fewer aliases';

describe('size and alias expansion', () => {
  const cases: Record<string, [text: string, path: string]> = {
    'metadata.labels': [`${HEAD}  labels:\n${billionLaughs(4)}`, 'metadata.labels'],
    'an unknown field': [`${HEAD}spec:\n  junk:\n${billionLaughs(4)}`, 'spec.junk'],
    'a pool': [`${HEAD}spec:\n  nodes:\n    - name: cp\n      role: control-plane\n      count: 1\n      labels:\n${billionLaughs(8)}`, 'spec.nodes[0].labels'],
    'a catalog addon': [`${HEAD}spec:\n  addons:\n    - name: metrics-server\n      options:\n${billionLaughs(8)}`, 'spec.addons[0].options'],
    'an addon with manifests': [`${HEAD}spec:\n  addons:\n    - name: mine\n      manifests: app.yaml\n      options:\n${billionLaughs(8)}`, 'spec.addons[0].options'],
    'a second document': [`${HEAD}---\n${HEAD.replace('hostile', 'second')}  labels:\n${billionLaughs(4)}`, 'metadata.labels'],
    'the root of a document': [billionLaughs(0), ''],
  };
  it.each(Object.entries(cases))('a billion laughs in %s is refused in under a second at the alias that goes past the limit', async (_, [text, path]) => {
    const [where, line, column] = fourthLevel(text, path);
    expect(await refusedQuickly(() => parseSpecs(text, 'c.yaml'))).toEqual([[where.replace(/^\./, ''), line, column, LAUGHS]]);
  });

  it('refuses an alias that contains itself', async () => {
    expect(await refused(() => parseSpecs(`${HEAD}  labels: &self\n    again: *self\n`, 'c.yaml'))).toEqual([
      ['metadata.labels.again', 6, 12, 'this YAML alias refers to a value that contains it (a recursive alias)'],
    ]);
  });

  it('accepts aliases that stay small', async () => {
    const pools = ['a', 'b', 'c'].map((p, i) => `    - name: ${p}\n      role: ${i ? 'worker' : 'control-plane'}\n      count: 1\n      labels: ${i ? '*l' : '&l {tier: x, zone: y}'}\n`);
    const [loaded] = parseSpecs(`${HEAD}spec:\n  nodes:\n${pools.join('')}`, 'c.yaml');
    expect(loaded!.cluster.spec.nodes.map((n) => n.labels)).toEqual(Array(3).fill({ tier: 'x', zone: 'y' }));
  });

  describe('a 20 MB spec is refused in under a second', () => {
    const TOO_LARGE = 'the file is larger than 1 MiB, the most a spec file may be';
    const big = `${HEAD}  labels:\n${'    k: v\n'.repeat(2_000_000)}`;
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'mk-hostile-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('as a file (read no further than the limit)', async () => {
      const file = path.join(dir, 'big.yaml');
      await writeFile(file, big);
      expect(await refusedQuickly(() => loadSpecs(file))).toEqual([['', 1, 1, TOO_LARGE]]);
    });

    it('as text (parseSpecs)', async () => {
      expect(await refusedQuickly(() => parseSpecs(big, 'big.yaml'))).toEqual([['', 1, 1, TOO_LARGE]]);
    });

    it('from a stdin that never ends (read no further than the limit)', async () => {
      let served = 0;
      // Endless as far as mk can tell; it stops at 32 MiB only so that a broken bound fails instead of hanging.
      async function* endless(): AsyncGenerator<Buffer> {
        while (served < 32 * 1024 * 1024) {
          served += 65536;
          yield Buffer.alloc(65536, 0x61);
        }
      }
      expect(await refusedQuickly(() => loadSpecs('-', { stdin: () => readSpecSource(endless()) }))).toEqual([['', 1, 1, TOO_LARGE]]);
      expect(served).toBe(SPEC_LIMITS.fileBytes + 65536);
    });
  });

  it('refuses a file of more than 20000 values in under a second, at the first one past the limit', async () => {
    // The root sequence is one value, so item 20000 (line 20000) is value 20001.
    expect(await refusedQuickly(() => parseSpecs('- 1\n'.repeat(200_000), 'c.yaml'))).toEqual([
      ['', 20_000, 3, 'the file holds more than 20000 values, the most a spec file may hold'],
    ]);
  });

  it("keeps js-yaml's bounds on nesting and on merge keys", async () => {
    const deep = `${HEAD}spec: ${'['.repeat(200)}${']'.repeat(200)}\n`;
    expect(await refusedQuickly(() => parseSpecs(deep, 'c.yaml'))).toEqual([['', 5, 106, 'invalid YAML: nesting exceeded maxDepth (100)']]);
    const keys = Array.from({ length: 2000 }, (_, i) => `k${i}: 1`).join(', ');
    const merges = Array.from({ length: 6 }, (_, i) => `    m${i}: {<<: *b}\n`).join('');
    const merged = `${HEAD}spec:\n  x:\n    b: &b {${keys}}\n${merges}`;
    const [, line, , message] = (await refusedQuickly(() => parseSpecs(merged, 'c.yaml')))[0]!;
    expect([line, message]).toEqual([12, 'invalid YAML: merge keys exceeded maxTotalMergeKeys (10000)']);
  });
});
