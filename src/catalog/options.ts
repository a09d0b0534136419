// Checks an addon's options against its catalog schema. Pure; used by the spec rules and render.
import type { OptionsSchema } from './types.js';

export interface OptionProblem {
  option: string;
  /** The string of a list option that is wrong. */
  index?: number;
  message: string;
}

/** "domains[1]": where an option problem is, under options. */
export const optionAt = (p: OptionProblem): string => `${p.option}${p.index === undefined ? '' : `[${p.index}]`}`;

export function checkOptions(schema: OptionsSchema, options: Record<string, unknown>): OptionProblem[] {
  const out: OptionProblem[] = [];
  for (const [key, value] of Object.entries(options)) {
    const def = schema[key];
    if (!def) {
      const known = Object.keys(schema);
      out.push({ option: key, message: `unknown option${known.length ? ` (known: ${known.join(', ')})` : ' (this addon has none)'}` });
      continue;
    }
    const ok =
      def.type === 'string' ? typeof value === 'string' :
      def.type === 'integer' ? typeof value === 'number' && Number.isInteger(value) :
      def.type === 'boolean' ? typeof value === 'boolean' :
      Array.isArray(value) && value.every((v) => typeof v === 'string');
    if (!ok) out.push({ option: key, message: `must be ${def.type === 'string[]' ? 'a list of strings' : `a${def.type === 'integer' ? 'n' : ''} ${def.type}`}` });
    else if (def.enum && !def.enum.includes(value as string)) out.push({ option: key, message: `must be one of ${def.enum.join(', ')}` });
    else out.push(...patternProblems(schema, key, value));
  }
  return out;
}

/** Strings of an option (a string, or each of a list) that do not match its pattern. Pure; the spec rules say these too. */
export function patternProblems(schema: OptionsSchema, key: string, value: unknown): OptionProblem[] {
  const pattern = schema[key]?.pattern;
  if (!pattern) return [];
  const re = new RegExp(pattern.regex);
  const wrong = (v: unknown) => typeof v === 'string' && !re.test(v);
  const message = (v: unknown) => `${JSON.stringify(v)} is not ${pattern.means}`;
  if (!Array.isArray(value)) return wrong(value) ? [{ option: key, message: message(value) }] : [];
  return value.flatMap((v, index) => (wrong(v) ? [{ option: key, index, message: message(v) }] : []));
}
