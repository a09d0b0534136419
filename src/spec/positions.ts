// YAML parsing that remembers where every value came from.
//
// js-yaml 4 has no AST, but its `listener` option reports an 'open' event when it starts composing a
// node and a 'close' event when the node is done, with the loader state (`position`, `result`). We keep
// a stack of open nodes: each closed node becomes a child of the node below it, with its start offset
// (the open offset, moved past blanks and comments) and its result. When a mapping or sequence closes,
// its children are matched to the keys and items of its result (keys by text, values by identity or
// equality), which yields data path -> offset for every key and value. js-yaml sometimes composes a
// node twice (it retries after a failed guess) or wraps a node in another with the same result; both
// are handled by dropping siblings that a re-read starts at or before, and by unwrapping. Values that
// have no node of their own (merged `<<` keys) fall back to the nearest enclosing path.
import yaml from 'js-yaml';
import { AliasBudget, SPEC_LIMITS, TOO_MANY_VALUES } from './bounds.js';
import { joinPath, parentPath } from './paths.js';

export interface Position {
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
}

interface Node {
  start: number;
  result: unknown;
  children: Node[];
}

/** Where the keys and values of one YAML document are. */
export class PositionMap {
  constructor(
    private readonly text: string,
    private readonly lineStarts: number[],
    private readonly values: Map<string, number>,
    private readonly keys: Map<string, number>,
  ) {}

  /**
   * Position of `path`: its key when `prefer` is 'key' and it has one, else its value. Paths that are not
   * in the document (a missing field, a default) resolve to the nearest enclosing path that is.
   */
  at(path: string, prefer: 'key' | 'value' = 'value'): Position {
    let p = path;
    for (;;) {
      const offset = (prefer === 'key' ? this.keys.get(p) : undefined) ?? this.values.get(p) ?? this.keys.get(p);
      if (offset !== undefined) return offsetToPosition(this.lineStarts, offset);
      if (p === '') return { line: 1, column: 1 };
      p = parentPath(p);
      // An enclosing mapping's own value starts at its first key; pointing at its key reads better.
      prefer = 'key';
    }
  }

  /** The text of the document line holding `path` (for messages that want to quote it). */
  lineOf(path: string): string {
    const { line } = this.at(path);
    const start = this.lineStarts[line - 1] ?? 0;
    const end = this.text.indexOf('\n', start);
    return this.text.slice(start, end === -1 ? undefined : end);
  }
}

export interface ParsedDocument {
  data: unknown;
  positions: PositionMap;
}

/** YAML mk does not read: invalid, or past a limit of SPEC_LIMITS (then `path` may say where). */
export class YamlSyntaxError extends Error {
  constructor(
    message: string,
    readonly position: Position,
    readonly path = '',
  ) {
    super(message);
    this.name = 'YamlSyntaxError';
  }
}

function computeLineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

function offsetToPosition(lineStarts: number[], offset: number): Position {
  let lo = 0;
  let hi = lineStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((lineStarts[mid] ?? 0) <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, column: offset - (lineStarts[lo] ?? 0) + 1 };
}

/** Skip blanks, line breaks and comments: where a node's content actually starts. */
function contentStart(text: string, from: number): number {
  let i = from;
  while (i < text.length) {
    const ch = text[i];
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') i++;
    else if (ch === '#') {
      const nl = text.indexOf('\n', i);
      i = nl === -1 ? text.length : nl;
    } else break;
  }
  return i;
}

function isScalarKey(value: unknown): value is string | number | boolean {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

function unwrap(node: Node): Node[] {
  let children = node.children;
  // A node whose only child produced the very same result is a wrapper (js-yaml tried a mapping first).
  for (let only = children[0]; children.length === 1 && only && only.result === node.result; only = children[0]) {
    children = only.children;
  }
  return children;
}

function record(node: Node, path: string, values: Map<string, number>, keys: Map<string, number>): void {
  values.set(path, node.start);
  const result = node.result;
  if (result === null || typeof result !== 'object') return;
  const children = unwrap(node);
  if (Array.isArray(result)) {
    let i = 0;
    result.forEach((item, index) => {
      while (i < children.length && children[i]?.result !== item) i++;
      const child = children[i];
      if (child) {
        record(child, joinPath(path, index), values, keys);
        i++;
      }
    });
    return;
  }
  const obj = result as Record<string, unknown>;
  const seen = new Set<string>();
  for (let i = 0; i < children.length; i++) {
    const child = children[i];
    if (!child || !isScalarKey(child.result)) continue;
    const key = String(child.result);
    if (seen.has(key) || !Object.prototype.hasOwnProperty.call(obj, key)) continue;
    seen.add(key);
    const keyPath = joinPath(path, key);
    keys.set(keyPath, child.start);
    const next = children[i + 1];
    if (next && next.result === obj[key]) {
      record(next, keyPath, values, keys);
      i++;
    } else {
      values.set(keyPath, child.start);
    }
  }
}

/** Thrown from the listener to stop js-yaml once the file holds too many values. */
class TooManyValues extends Error {
  constructor(readonly offset: number) {
    super(TOO_MANY_VALUES);
  }
}

/**
 * Parse every document of a YAML stream. Empty documents (a trailing `---`) are dropped.
 * Throws YamlSyntaxError with a 1-based position on invalid YAML, and on YAML past SPEC_LIMITS
 * (values written or expanded through aliases, recursive aliases, nesting, merge keys): parsing
 * stops at the limit, so a hostile file costs no more than a large valid one.
 */
export function parseYamlDocuments(source: string): ParsedDocument[] {
  // js-yaml drops a leading BOM, which would shift every offset by one; drop it here instead.
  const text = source.charCodeAt(0) === 0xfeff ? source.slice(1) : source;
  const lineStarts = computeLineStarts(text);
  const stack: Node[] = [];
  const roots: Node[] = [];
  // Values are counted by where they start: a re-read, or a mapping and its first key, count once.
  let written = 0;
  let furthest = -1;
  const listener = (event: 'open' | 'close', state: { position: number; result: unknown }): void => {
    if (event === 'open') {
      const start = contentStart(text, state.position);
      if (start > furthest) {
        furthest = start;
        if (++written > SPEC_LIMITS.values) throw new TooManyValues(start);
      }
      stack.push({ start, result: undefined, children: [] });
      return;
    }
    const node = stack.pop();
    if (!node) return;
    node.result = state.result;
    const parent = stack[stack.length - 1];
    if (!parent) {
      roots.push(node);
      return;
    }
    const siblings = parent.children;
    // A re-read (js-yaml backtracked) replaces whatever was composed from the same text before.
    while ((siblings[siblings.length - 1]?.start ?? -1) >= node.start) siblings.pop();
    siblings.push(node);
  };
  let docs: unknown[];
  try {
    // maxDepth and maxTotalMergeKeys are js-yaml 4.3's own bounds (not in its type definitions yet).
    const options = { listener, maxDepth: SPEC_LIMITS.depth, maxTotalMergeKeys: SPEC_LIMITS.mergeKeys };
    docs = yaml.loadAll(text, undefined, options as yaml.LoadOptions);
  } catch (err) {
    if (err instanceof TooManyValues) throw new YamlSyntaxError(err.message, offsetToPosition(lineStarts, err.offset));
    if (err instanceof yaml.YAMLException) {
      const mark = err.mark as { line?: number; column?: number } | undefined;
      throw new YamlSyntaxError(`invalid YAML: ${err.reason}`, {
        line: (mark?.line ?? 0) + 1,
        column: (mark?.column ?? 0) + 1,
      });
    }
    throw err;
  }
  const out: ParsedDocument[] = [];
  const aliases = new AliasBudget(SPEC_LIMITS.values - written);
  docs.forEach((data, i) => {
    if (data === null || data === undefined) return;
    const values = new Map<string, number>();
    const keys = new Map<string, number>();
    const root = roots[i];
    if (root) record(root, '', values, keys);
    const positions = new PositionMap(text, lineStarts, values, keys);
    // Before anything walks the document: past this point it is no larger than its text says.
    const expanded = aliases.check(data);
    if (expanded) throw new YamlSyntaxError(expanded.message, positions.at(expanded.path), expanded.path);
    out.push({ data, positions });
  });
  return out;
}
