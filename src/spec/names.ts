// Name syntax: DNS-1123 labels, Kubernetes qualified names and label values, login names. Pure.
// Each check returns undefined when the value is fine, else the reason in plain English.

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN_PART = DNS1123_LABEL;
const QUALIFIED_NAME_PART = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LOGIN_NAME = /^[a-z_][a-z0-9_.-]*\$?$/i;

/** Show a user value in a message on one line, shortened if long. */
export function quote(value: string): string {
  const shown = value.length > 40 ? `${value.slice(0, 40)}...` : value;
  return JSON.stringify(shown);
}

export function checkDns1123Label(value: string, max: number): string | undefined {
  if (value.length === 0) return 'must not be empty';
  if (value.length > max) return `${quote(value)} is ${value.length} characters long; at most ${max} are allowed`;
  if (!DNS1123_LABEL.test(value)) {
    return `${quote(value)} is not a valid name: use lowercase letters, digits and '-', starting and ending with a letter or digit`;
  }
  return undefined;
}

function checkSubdomain(value: string): string | undefined {
  if (value.length > 253) return `prefix ${quote(value)} is longer than 253 characters`;
  if (!value.split('.').every((p) => p.length <= 63 && DNS1123_SUBDOMAIN_PART.test(p))) {
    return `prefix ${quote(value)} must be a DNS subdomain (lowercase letters, digits, '-' and '.')`;
  }
  return undefined;
}

/** A label key or taint key: `[prefix/]name`, name at most 63 characters. */
export function checkQualifiedName(value: string): string | undefined {
  const parts = value.split('/');
  if (parts.length > 2) return `key ${quote(value)} has more than one '/'`;
  const name = parts.length === 2 ? (parts[1] ?? '') : value;
  if (parts.length === 2) {
    const prefixProblem = checkSubdomain(parts[0] ?? '');
    if (prefixProblem) return `key ${quote(value)}: ${prefixProblem}`;
  }
  if (name.length === 0) return `key ${quote(value)} has an empty name`;
  if (name.length > 63) return `key ${quote(value)}: the name part is ${name.length} characters long; at most 63 are allowed`;
  if (!QUALIFIED_NAME_PART.test(name)) {
    return `key ${quote(value)} is not valid: use letters, digits, '-', '_' and '.', starting and ending with a letter or digit (optionally prefixed by a DNS subdomain and '/')`;
  }
  return undefined;
}

/** A label or taint value: empty, or at most 63 characters of the qualified-name alphabet. */
export function checkLabelValue(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63) return `value ${quote(value)} is ${value.length} characters long; at most 63 are allowed`;
  if (!QUALIFIED_NAME_PART.test(value)) {
    return `value ${quote(value)} is not valid: use letters, digits, '-', '_' and '.', starting and ending with a letter or digit`;
  }
  return undefined;
}

/** A POSIX login name (for ssh users): letters, digits, '_', '-', '.', not starting with '-'. */
export function checkLoginName(value: string): string | undefined {
  if (value.length === 0) return 'must not be empty';
  if (value.length > 32) return `${quote(value)} is longer than 32 characters`;
  if (!LOGIN_NAME.test(value)) {
    return `${quote(value)} is not a valid user name: use letters, digits, '_', '-' and '.', starting with a letter or '_'`;
  }
  return undefined;
}

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** The closest candidate within a small edit distance, if any. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.min(3, Math.floor(word.length / 3))) ? best : undefined;
}
