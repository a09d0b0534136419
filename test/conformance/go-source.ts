// Just enough Go source scanning to find which ginkgo spec bodies (and which top-level functions)
// contain a given offset: blocks are matched by braces, skipping comments, strings and runes.

/** The offset just past the block that starts at the first `{` at or after `from` (an empty `{}`,
 * as in `interface{}` or `struct{}` of a signature, does not count); -1 if unbalanced. */
export function blockEnd(src: string, from: number): number {
  let depth = 0;
  let i = from;
  while (i < src.length) {
    const c = src[i]!;
    const next = src[i + 1];
    if (c === '/' && next === '/') {
      const nl = src.indexOf('\n', i);
      i = nl < 0 ? src.length : nl + 1;
      continue;
    }
    if (c === '/' && next === '*') {
      const end = src.indexOf('*/', i + 2);
      i = end < 0 ? src.length : end + 2;
      continue;
    }
    if (c === '"' || c === "'") {
      i = quotedEnd(src, i, c);
      continue;
    }
    if (c === '`') {
      const end = src.indexOf('`', i + 1);
      i = end < 0 ? src.length : end + 1;
      continue;
    }
    if (c === '{') {
      if (depth === 0 && next === '}') {
        i += 2;
        continue;
      }
      depth++;
    } else if (c === '}') {
      depth--;
      if (depth === 0) return i + 1;
      if (depth < 0) return -1;
    }
    i++;
  }
  return -1;
}

function quotedEnd(src: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < src.length && src[i] !== quote && src[i] !== '\n') i += src[i] === '\\' ? 2 : 1;
  return i + 1;
}

/** Offset of the start of 1-based line `line`. */
export function lineOffset(src: string, line: number): number {
  let off = 0;
  for (let l = 1; l < line; l++) {
    const nl = src.indexOf('\n', off);
    if (nl < 0) return src.length;
    off = nl + 1;
  }
  return off;
}

export interface GoFunc {
  name: string;
  start: number;
  end: number;
}

/** The top-level functions and methods of a file, with their extents. */
export function topLevelFuncs(src: string): GoFunc[] {
  const funcs: GoFunc[] = [];
  for (const m of src.matchAll(/^func\s+(?:\([^)]*\)\s*)?(\w+)/gm)) {
    const end = blockEnd(src, m.index);
    if (end > 0) funcs.push({ name: m[1]!, start: m.index, end });
  }
  return funcs;
}

/** The identifier the file imports `pkgPath` as (its alias, or the path's last element); undefined if not imported. */
export function importName(src: string, pkgPath: string): string | undefined {
  const quoted = `"${pkgPath}"`;
  const m = new RegExp(`(?:^|\\s)(\\w+\\s+)?${quoted.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`, 'm').exec(src);
  if (!m) return undefined;
  const alias = m[1]?.trim();
  return alias && alias !== 'import' ? alias : pkgPath.slice(pkgPath.lastIndexOf('/') + 1);
}
