// Validation: the JSON Schema (ajv's validator, compiled when mk is built: schema-validator.d.ts) plus
// the semantic rules of rules.ts, all problems together. Pure: no I/O; problems carry data paths,
// load.ts adds file positions.
import type { ErrorObject } from 'ajv';
import validate from './schema-validator.js';
import { suggest } from './names.js';
import { joinPath, pointerToPath } from './paths.js';
import { semanticIssues } from './rules.js';
import type { Issue } from './rules.js';

export type { Issue } from './rules.js';

type SchemaNode = Record<string, unknown>;

const ARTICLE_TYPES: Record<string, string> = {
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  null: 'empty',
};

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' && Number.isInteger(value)) return 'integer';
  return typeof value;
}

function describeType(type: unknown): string {
  const types = Array.isArray(type) ? type : [type];
  return types.map((t) => ARTICLE_TYPES[String(t)] ?? String(t)).join(' or ');
}

function describeBranch(branch: SchemaNode): string {
  if ('const' in branch) return JSON.stringify(branch.const);
  if (typeof branch.minimum === 'number') return `at least ${branch.minimum}`;
  if (branch.type !== undefined) return describeType(branch.type);
  return 'a valid value';
}

function typeMatches(branch: SchemaNode, value: unknown): boolean {
  if (branch.type === undefined) return true;
  const t = typeOf(value);
  const types = Array.isArray(branch.type) ? branch.type : [branch.type];
  return types.some((x) => x === t || (x === 'number' && t === 'integer'));
}

function message(e: ErrorObject, data: unknown): Issue {
  const path = pointerToPath(e.instancePath, data);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const field = String(params.additionalProperty);
      const known = Object.keys((e.parentSchema as SchemaNode | undefined)?.properties ?? {});
      const guess = known.length > 0 ? suggest(field, known) : undefined;
      const hint = guess ? ` (did you mean "${guess}"?)` : known.length > 0 ? ` (known fields: ${known.join(', ')})` : ' (none may be set here)';
      return { path: joinPath(path, field), message: `unknown field "${field}"${hint}`, at: 'key' };
    }
    case 'required':
      return { path, message: `missing required field "${String(params.missingProperty)}"`, at: 'key' };
    case 'type': {
      const got = typeOf(e.data);
      // YAML reads 1, 0123 or true unquoted as numbers and booleans.
      const hint = params.type === 'string' && ['integer', 'number', 'boolean'].includes(got) ? ' (put it in quotes)' : '';
      return { path, message: `must be ${describeType(params.type)}, not ${describeType(got)}${hint}` };
    }
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map(String);
      const guess = typeof e.data === 'string' ? suggest(e.data, allowed) : undefined;
      return { path, message: `must be one of: ${allowed.join(', ')}${guess ? ` (did you mean "${guess}"?)` : ''}` };
    }
    case 'const':
      return { path, message: `must be ${JSON.stringify(params.allowedValue)}` };
    case 'minimum':
    case 'maximum':
      return { path, message: `must be ${e.keyword === 'minimum' ? 'at least' : 'at most'} ${String(params.limit)}` };
    case 'minItems':
      return { path, message: `must list at least ${String(params.limit)} item${params.limit === 1 ? '' : 's'}` };
    case 'maxLength':
      return { path, message: `must be at most ${String(params.limit)} characters long` };
    case 'pattern':
      return { path, message: `${JSON.stringify(e.data)} does not match the expected format ${String(params.pattern)}` };
    case 'anyOf': {
      const branches = (e.schema as SchemaNode[]) ?? [];
      return { path, message: `must be ${branches.map(describeBranch).join(' or ')}` };
    }
    default:
      return { path, message: e.message ?? 'is not valid' };
  }
}

/** ajv errors -> issues. anyOf failures report the branch whose type fits, else one summary line. */
function schemaIssues(data: unknown, errors: ErrorObject[]): (Issue & { keyword: string })[] {
  const anyOfs = errors.filter((e) => e.keyword === 'anyOf');
  const dropped = new Set<ErrorObject>();
  for (const a of anyOfs) {
    const inside = errors.filter((e) => e !== a && e.schemaPath.startsWith(`${a.schemaPath}/`));
    const branches = (a.schema as SchemaNode[]) ?? [];
    const fitting = branches.map((b, i) => ({ b, i })).filter(({ b }) => typeMatches(b, a.data));
    if (fitting.length === 1 && fitting[0]!.b.type !== undefined) {
      // Only one branch is of the right type: its own errors say what is wrong.
      const prefix = `${a.schemaPath}/${fitting[0]!.i}/`;
      for (const e of inside) if (!e.schemaPath.startsWith(prefix)) dropped.add(e);
      dropped.add(a);
    } else {
      for (const e of inside) dropped.add(e);
    }
  }
  const out: (Issue & { keyword: string })[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    // "must match the then schema": the errors of the branch (a catalog addon's options) say what.
    if (dropped.has(e) || e.keyword === 'if') continue;
    const issue = message(e, data);
    const key = `${issue.path}\u0000${issue.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ ...issue, keyword: e.keyword });
  }
  return out;
}

/** Every schema and semantic problem of one raw cluster document, schema problems first. */
export function validateCluster(data: unknown): Issue[] {
  const schemaProblems = validate(data) ? [] : schemaIssues(data, validate.errors ?? []);
  const semantic = semanticIssues(data);
  // Where a semantic rule explains a value, its message beats ajv's bare pattern or length message;
  // otherwise the schema problem stands and the semantic rule's second opinion is dropped.
  const explained = new Set(semantic.map((s) => s.path));
  const kept = schemaProblems.filter((s) => !((s.keyword === 'pattern' || s.keyword === 'maxLength') && explained.has(s.path)));
  const schemaPaths = new Set(kept.map((s) => s.path));
  return [
    ...kept.map(({ keyword: _keyword, ...issue }) => issue),
    ...semantic.filter((s) => !schemaPaths.has(s.path)),
  ];
}
