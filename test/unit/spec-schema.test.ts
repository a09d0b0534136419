// The JSON Schema compiles in ajv strict mode, documents every field, and scripts/check-schema.mjs passes.
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import schema from '../../schema/cluster.v1alpha1.json' with { type: 'json' };
import { CATALOG } from '../../src/catalog/index.js';
import type { CatalogAddon } from '../../src/catalog/types.js';
import { catalogImageTexts } from '../../src/catalog/kubeadm-images.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
type Node = Record<string, unknown>;

/**
 * Every object schema with `properties`, with its path. The `if`/`then` of a catalog addon only
 * narrow the addon object around them (closed and described itself): not walked.
 */
function objectSchemas(node: unknown, at: string, out: { at: string; node: Node }[] = []): { at: string; node: Node }[] {
  if (node === null || typeof node !== 'object') return out;
  const n = node as Node;
  if (n.properties) out.push({ at, node: n });
  for (const [k, v] of Object.entries(n)) if (typeof v === 'object' && k !== 'if' && k !== 'then') objectSchemas(v, `${at}/${k}`, out);
  return out;
}

function resolve(node: Node): Node {
  const ref = node.$ref;
  if (typeof ref !== 'string') return node;
  const name = ref.replace('#/definitions/', '');
  return (schema.definitions as Record<string, Node>)[name]!;
}

/** A catalog addon's options as the schema should describe them (OptionsSchema -> JSON Schema). */
function optionsSchema(entry: CatalogAddon): Node {
  const options = Object.entries(entry.optionsSchema);
  if (options.length === 0) return resolve({ $ref: '#/definitions/noOptions' });
  const property = ([, o]: (typeof options)[number]): Node => ({
    description: o.description,
    ...(o.type === 'string[]' ? { type: 'array', items: { type: 'string', ...(o.pattern ? { pattern: o.pattern.regex } : {}) } } : { type: o.type, ...(o.pattern ? { pattern: o.pattern.regex } : {}) }),
    ...(o.enum ? { enum: [...o.enum] } : {}),
    ...(o.default !== undefined ? { default: o.default } : {}),
  });
  return {
    description: `Options of the ${entry.name} addon.`,
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(options.map((o) => [o[0], property(o)])),
  };
}

/** A catalog addon's image overrides as the schema should describe them: its image keys, each in place of the catalog's reference (or kubeadm's). */
function imagesSchema(entry: CatalogAddon): Node {
  const images = Object.entries(catalogImageTexts(entry));
  if (images.length === 0) return resolve({ $ref: '#/definitions/noImages' });
  return {
    description: `Images of the ${entry.name} addon, in place of the catalog's.`,
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(images.map(([key, ref]) => [key, { description: `In place of ${ref}.`, type: 'string' }])),
  };
}

describe('schema/cluster.v1alpha1.json', () => {
  it('compiles in ajv strict mode', () => {
    expect(() => new Ajv({ strict: true, allErrors: true }).compile(schema)).not.toThrow();
  });

  it('closes every object (additionalProperties: false) except free-form maps', () => {
    const open = objectSchemas(schema, '#').filter(({ node }) => node.additionalProperties !== false);
    expect(open.map((o) => o.at)).toEqual([]);
  });

  it('describes every field', () => {
    const missing: string[] = [];
    for (const { at, node } of objectSchemas(schema, '#')) {
      for (const [key, prop] of Object.entries(node.properties as Record<string, Node>)) {
        if (typeof prop.description !== 'string' && typeof resolve(prop).description !== 'string') missing.push(`${at}/${key}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('is accepted by scripts/check-schema.mjs together with clusters/', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(repo, 'scripts', 'check-schema.mjs')], { cwd: repo });
    // One cluster document per example file.
    const n = (await readdir(path.join(repo, 'clusters'))).filter((f) => f.endsWith('.yaml')).length;
    expect(n).toBeGreaterThan(0);
    expect(stdout).toBe(`check-schema: schema ok (strict); ${n} document(s) in ${n} file(s) under clusters/\n`);
  });
});

describe('the schema and the addon catalog', () => {
  const addon = schema.definitions.addon;
  const byName = new Map(
    addon.allOf.map((rule) => [rule.if.properties.name.const, resolve(rule.then.properties.options as Node)] as const),
  );
  const imagesByName = new Map(addon.allOf.map((rule) => [rule.if.properties.name.const, resolve(rule.then.properties.images as Node)] as const));

  it('enumerates every catalog addon name for editors, and still takes any name (your own addons)', () => {
    const [catalog, own] = addon.properties.name.anyOf;
    expect(catalog!.enum).toEqual([...CATALOG.keys()].sort());
    expect(Object.keys(own!)).toEqual(['description']);
  });

  it("gives each catalog addon's options their own schema, equal to the catalog's", () => {
    expect([...byName.keys()]).toEqual([...CATALOG.keys()].sort());
    for (const entry of CATALOG.values()) expect(byName.get(entry.name), entry.name).toEqual(optionsSchema(entry));
    for (const rule of addon.allOf) expect(rule.if.required).toEqual(['name']);
  });

  it("gives each catalog addon's image overrides their own schema: the entry's image keys", () => {
    expect([...imagesByName.keys()]).toEqual([...CATALOG.keys()].sort());
    for (const entry of CATALOG.values()) expect(imagesByName.get(entry.name), entry.name).toEqual(imagesSchema(entry));
  });
});
