// Checks an addon's options against its catalog schema. Pure; used by the spec rules and render.
import type { OptionsSchema } from './types.js';

export interface OptionProblem {
  option: string;
  message: string;
}

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
  }
  return out;
}
