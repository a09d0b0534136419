// How big a spec may be, so that a hostile file is refused before anything works through it. YAML
// aliases are shared, not copied, by js-yaml: a "billion laughs" document parses in microseconds into
// a small graph that every later walk (schema validation, JSON.stringify of the applied spec) would
// expand to billions of values. Pure.
import { joinPath } from './paths.js';
import type { Issue } from './rules.js';

export const SPEC_LIMITS = {
  /** Bytes of one spec file (or of standard input). */
  fileBytes: 1024 * 1024,
  /** Values (YAML nodes) of one file, all its documents together, each alias counted as the values it stands for. */
  values: 20_000,
  /** Nesting depth of collections (js-yaml's maxDepth). */
  depth: 100,
  /** Keys copied by `<<` merge keys in one file (js-yaml's maxTotalMergeKeys). */
  mergeKeys: 10_000,
} as const;

/** The problem with a spec of `bytes` bytes (or at least that many: stdin is not read further), if it is too large. */
export function sizeProblem(bytes: number): string | undefined {
  if (bytes <= SPEC_LIMITS.fileBytes) return undefined;
  return `the file is larger than ${SPEC_LIMITS.fileBytes / (1024 * 1024)} MiB, the most a spec file may be`;
}

export const TOO_MANY_VALUES = `the file holds more than ${SPEC_LIMITS.values} values, the most a spec file may hold`;

class Found extends Error {
  constructor(readonly issue: Issue) {
    super(issue.message);
  }
}

/**
 * Counts, across the documents of one file, the values YAML aliases add when expanded, against
 * what is left of the file's budget once its written values are counted. Each value is walked
 * once (the expanded size of a shared one is remembered), so a check costs what the text holds,
 * never what it expands to.
 */
export class AliasBudget {
  private readonly sizes = new WeakMap<object, number>();

  constructor(private left: number) {}

  /** The first alias of `data` that a walk in document order finds over budget, or that contains itself. */
  check(data: unknown): Issue | undefined {
    try {
      this.size(data, '', new Set());
      return undefined;
    } catch (err) {
      if (err instanceof Found) return err.issue;
      throw err;
    }
  }

  private size(value: unknown, path: string, open: Set<object>): number {
    if (value === null || typeof value !== 'object') return 1;
    const known = this.sizes.get(value);
    if (known !== undefined) {
      // Seen before: an alias (or a value a merge key copied), expanded here once more.
      this.left -= known;
      if (this.left < 0) {
        throw new Found({ path, message: `YAML aliases expand the file past ${SPEC_LIMITS.values} values (a "billion laughs" document?); write the values out or use fewer aliases` });
      }
      return known;
    }
    if (open.has(value)) throw new Found({ path, message: 'this YAML alias refers to a value that contains it (a recursive alias)' });
    open.add(value);
    let total = 1;
    for (const [key, child] of Object.entries(value)) total += this.size(child, joinPath(path, Array.isArray(value) ? Number(key) : key), open);
    open.delete(value);
    this.sizes.set(value, total);
    return total;
  }
}
