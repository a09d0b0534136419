// Data paths in the `spec.nodes[1].name` style used by every SpecProblem.

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Append a mapping key or a sequence index to a path. */
export function joinPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  if (PLAIN_KEY.test(key)) return parent ? `${parent}.${key}` : key;
  return `${parent}[${JSON.stringify(key)}]`;
}

/** Convert a JSON pointer (ajv's instancePath) to a path, using the data to tell indexes from keys. */
export function pointerToPath(pointer: string, data: unknown): string {
  if (pointer === '') return '';
  let path = '';
  let node: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node) && /^\d+$/.test(key)) {
      const index = Number(key);
      path = joinPath(path, index);
      node = node[index];
    } else {
      path = joinPath(path, key);
      node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
    }
  }
  return path;
}

/** The enclosing path: `spec.nodes[1].name` -> `spec.nodes[1]` -> `spec.nodes` -> `spec` -> ''. */
export function parentPath(path: string): string {
  const m = /^(.*?)(?:\.[A-Za-z_][A-Za-z0-9_-]*|\[(?:\d+|"(?:[^"\\]|\\.)*")\])$/.exec(path);
  return m ? (m[1] ?? '') : '';
}
