// Data path -> line:column, from js-yaml's listener events.
import { describe, expect, it } from 'vitest';
import { joinPath, parentPath, pointerToPath } from '../../src/spec/paths.js';
import { parseYamlDocuments, YamlSyntaxError } from '../../src/spec/positions.js';

function positions(text: string, index = 0) {
  const doc = parseYamlDocuments(text)[index];
  if (!doc) throw new Error('no document');
  const at = (p: string, prefer?: 'key' | 'value'): [number, number] => {
    const { line, column } = doc.positions.at(p, prefer);
    return [line, column];
  };
  return { doc, at };
}

describe('parseYamlDocuments positions', () => {
  const block = [
    'metadata:', //            1
    '  name: dev # comment', // 2
    'spec:', //                3
    '  nodes:', //             4
    '    - name: a', //        5
    '      count: 1', //       6
    '    -', //                7
    '      # lead comment', // 8
    '      name: b', //        9
    '      labels: {x: "1", y.z/w: v}', // 10
    '  empty:', //             11
    '  list: [1, [2, 3]]', //  12
  ].join('\n');

  it('maps keys and values of block mappings and sequences', () => {
    const { at } = positions(block);
    expect(at('metadata.name')).toEqual([2, 9]);
    expect(at('metadata.name', 'key')).toEqual([2, 3]);
    expect(at('spec.nodes')).toEqual([5, 5]);
    expect(at('spec.nodes', 'key')).toEqual([4, 3]);
    expect(at('spec.nodes[0]')).toEqual([5, 7]);
    expect(at('spec.nodes[0].count')).toEqual([6, 14]);
    expect(at('spec.nodes[1]')).toEqual([9, 7]);
    expect(at('spec.nodes[1].name')).toEqual([9, 13]);
  });

  it('maps flow collections and quoted keys', () => {
    const { at } = positions(block);
    expect(at('spec.nodes[1].labels.x')).toEqual([10, 19]);
    expect(at('spec.nodes[1].labels["y.z/w"]', 'key')).toEqual([10, 24]);
    expect(at('spec.nodes[1].labels["y.z/w"]')).toEqual([10, 31]);
    expect(at('spec.list[1][1]')).toEqual([12, 17]);
  });

  it('points an empty value at its key, and a missing path at its nearest ancestor key', () => {
    const { at } = positions(block);
    expect(at('spec.empty')).toEqual([11, 3]);
    expect(at('spec.nodes[0].labels.x')).toEqual([5, 7]);
    expect(at('spec.networking.cni')).toEqual([3, 1]);
    expect(at('nothing')).toEqual([1, 1]);
  });

  it('counts lines across documents, and skips empty ones', () => {
    const docs = parseYamlDocuments('a: 1\n---\n---\n# c\nb:\n  c: 2\n---\n');
    expect(docs.map((d) => d.data)).toEqual([{ a: 1 }, { b: { c: 2 } }]);
    expect(docs[1]!.positions.at('b.c')).toEqual({ line: 6, column: 6 });
  });

  it('handles CRLF line endings and a byte-order mark', () => {
    const { at } = positions('\ufeffa: 1\r\nb:\r\n  c: x\r\n');
    expect(at('a')).toEqual([1, 4]);
    expect(at('b.c')).toEqual([3, 6]);
  });

  it('handles anchors, aliases and merge keys (merged keys fall back to their mapping)', () => {
    const { doc, at } = positions('base: &b {x: 1}\nuse:\n  <<: *b\n  y: 2\nref: *b\n');
    expect(doc.data).toEqual({ base: { x: 1 }, use: { x: 1, y: 2 }, ref: { x: 1 } });
    expect(at('use.y')).toEqual([4, 6]);
    expect(at('use.x')).toEqual([2, 1]);
    expect(at('ref')).toEqual([5, 6]);
  });

  it('distinguishes a value that equals its key', () => {
    const { at } = positions('name: name\nother: name\n');
    expect(at('name')).toEqual([1, 7]);
    expect(at('other')).toEqual([2, 8]);
  });

  it('reports syntax errors with a 1-based position', () => {
    let caught: unknown;
    try {
      parseYamlDocuments('a:\n  b: 1\n c: 2\n');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(YamlSyntaxError);
    expect((caught as YamlSyntaxError).position).toEqual({ line: 3, column: 2 });
    expect((caught as YamlSyntaxError).message).toMatch(/^invalid YAML: /);
  });
});

describe('duplicate keys', () => {
  it('are a syntax error at the second key', () => {
    expect(() => parseYamlDocuments('a: 1\nb: 2\na: 3\n')).toThrow(YamlSyntaxError);
    try {
      parseYamlDocuments('a: 1\nb: 2\na: 3\n');
    } catch (err) {
      expect((err as YamlSyntaxError).message).toContain('duplicated mapping key');
      expect((err as YamlSyntaxError).position.line).toBe(3);
    }
  });
});

describe('paths', () => {
  it('joins keys and indexes, quoting keys that are not plain', () => {
    expect(joinPath(joinPath(joinPath('', 'spec'), 'nodes'), 1)).toBe('spec.nodes[1]');
    expect(joinPath('labels', 'example.com/x')).toBe('labels["example.com/x"]');
  });

  it('walks up to the parent path', () => {
    expect(parentPath('spec.nodes[1].name')).toBe('spec.nodes[1]');
    expect(parentPath('spec.nodes[1]')).toBe('spec.nodes');
    expect(parentPath('labels["a.b/c"]')).toBe('labels');
    expect(parentPath('spec')).toBe('');
  });

  it('turns ajv instance paths into display paths using the data', () => {
    const data = { spec: { nodes: [{}, { labels: { 'a/b': 'x' } }] }, '0': { '1': true } };
    expect(pointerToPath('/spec/nodes/1/labels/a~1b', data)).toBe('spec.nodes[1].labels["a/b"]');
    expect(pointerToPath('/0/1', data)).toBe('["0"]["1"]');
    expect(pointerToPath('', data)).toBe('');
  });
});
