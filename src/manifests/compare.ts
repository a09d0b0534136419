// Whether an object as the cluster has it already is what mk renders: fields mk sets must match,
// fields the cluster adds (defaults, status, managedFields) do not matter. Pure.

/** Whether every field of desired has the same value in live (arrays: same length, item by item). */
export function isSubset(desired: unknown, live: unknown): boolean {
  if (Array.isArray(desired)) {
    return Array.isArray(live) && live.length === desired.length && desired.every((d, i) => isSubset(d, live[i]));
  }
  if (desired !== null && typeof desired === 'object') {
    if (live === null || typeof live !== 'object' || Array.isArray(live)) return false;
    return Object.entries(desired as Record<string, unknown>).every(([k, v]) => v === undefined || isSubset(v, (live as Record<string, unknown>)[k]));
  }
  return desired === live;
}

/** The first path where desired differs from live (for debug lines), or undefined. */
export function firstDifference(desired: unknown, live: unknown, at = ''): string | undefined {
  if (Array.isArray(desired)) {
    if (!Array.isArray(live) || live.length !== desired.length) return at || '.';
    for (let i = 0; i < desired.length; i++) {
      const d = firstDifference(desired[i], live[i], `${at}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (desired !== null && typeof desired === 'object') {
    if (live === null || typeof live !== 'object' || Array.isArray(live)) return at || '.';
    for (const [k, v] of Object.entries(desired as Record<string, unknown>)) {
      if (v === undefined) continue;
      const d = firstDifference(v, (live as Record<string, unknown>)[k], `${at}.${k}`);
      if (d) return d;
    }
    return undefined;
  }
  return desired === live ? undefined : at || '.';
}
