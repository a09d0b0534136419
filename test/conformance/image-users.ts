// Which specs use which e2e images, derived from the e2e source: a reference to an image ID
// (`imageutils.Nautilus`) inside a spec's body marks that spec; one inside a top-level function
// marks every spec whose body calls that function (one level: unexported functions only from
// specs of the same package directory). References outside functions (image lists, var blocks)
// mark nothing. Used to skip, by name, the specs whose images cannot be built here.
import { dirname } from 'node:path';
import { blockEnd, importName, lineOffset, topLevelFuncs } from './go-source.js';

export const IMAGE_PKG = 'k8s.io/kubernetes/test/utils/image';

export interface SpecLocation {
  /** Ginkgo's full text: container texts and the leaf text, joined by spaces. */
  name: string;
  /** Path of the Go file (as the caller reads it). */
  file: string;
  /** 1-based line of the It/ConformanceIt call. */
  line: number;
}

interface Body {
  spec: string;
  file: string;
  text: string;
  start: number;
  end: number;
}

/** What needs a registry whatever the image: a pull policy of Always pulls at every start. */
export const PULL_ALWAYS = { id: 'PullAlways', pattern: /\bv1\.PullAlways\b/g };

/** spec name -> the image IDs (of `ids`) it uses. `sources` maps every Go file to scan (and each
 * spec's file) to its text. `extra` are more IDs, found by their own pattern (global regexps). */
export function imageUsers(
  sources: ReadonlyMap<string, string>,
  specs: readonly SpecLocation[],
  ids: ReadonlySet<string>,
  extra: ReadonlyArray<{ id: string; pattern: RegExp }> = [],
): Map<string, Set<string>> {
  const users = new Map<string, Set<string>>();
  const mark = (spec: string, id: string) => {
    const s = users.get(spec) ?? new Set<string>();
    s.add(id);
    users.set(spec, s);
  };
  const bodies: Body[] = [];
  for (const spec of specs) {
    const src = sources.get(spec.file);
    if (src === undefined) continue;
    const start = lineOffset(src, spec.line);
    const end = blockEnd(src, start);
    if (end > 0) bodies.push({ spec: spec.name, file: spec.file, text: src.slice(start, end), start, end });
  }
  const helpers: Array<{ name: string; id: string; dir: string }> = [];
  for (const [file, src] of sources) {
    const alias = importName(src, IMAGE_PKG);
    const refs: Array<{ id: string; index: number }> = [];
    if (alias) {
      for (const m of src.matchAll(new RegExp(`\\b${alias}\\.(\\w+)\\b`, 'g'))) if (ids.has(m[1]!)) refs.push({ id: m[1]!, index: m.index });
    }
    for (const e of extra) for (const m of src.matchAll(e.pattern)) refs.push({ id: e.id, index: m.index });
    if (refs.length === 0) continue;
    const funcs = topLevelFuncs(src);
    for (const m of refs) {
      const id = m.id;
      const inSpecs = bodies.filter((b) => b.file === file && b.start <= m.index && m.index < b.end);
      for (const b of inSpecs) mark(b.spec, id);
      if (inSpecs.length > 0) continue;
      const fn = funcs.find((f) => f.start <= m.index && m.index < f.end);
      if (fn) helpers.push({ name: fn.name, id, dir: dirname(file) });
    }
  }
  for (const h of helpers) {
    const call = new RegExp(`\\b${h.name}\\(`);
    const exported = /^[A-Z]/.test(h.name);
    for (const b of bodies) {
      if ((exported || dirname(b.file) === h.dir) && call.test(b.text)) mark(b.spec, h.id);
    }
  }
  return users;
}
