// One redaction filter for every output sink: status lines, NDJSON events and debug logs.
// Anything that looks like a secret mk handles is replaced before it is written.

const RULES: Array<[RegExp, string]> = [
  // PEM private keys (RSA, EC, OpenSSH, PKCS#8)
  [/-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?-----END \1PRIVATE KEY-----/g, '-----BEGIN $1PRIVATE KEY-----[redacted]-----END $1PRIVATE KEY-----'],
  // kubeadm bootstrap tokens: [a-z0-9]{6}.[a-z0-9]{16}
  [/\b([a-z0-9]{6})\.[a-z0-9]{16}\b/g, '$1.[redacted]'],
  // kubeadm certificate keys and similar 64-hex secrets passed as flags or fields
  [/((?:certificate[-_]?key|certificateKey|token|password|secret)["']?\s*[:=]\s*["']?)[^\s"',}]+/gi, '$1[redacted]'],
  [/(--(?:certificate-key|token|discovery-token|password)[= ])\S+/g, '$1[redacted]'],
  // client keys embedded in kubeconfigs
  [/((?:client-key-data|token)\s*:\s*)\S+/g, '$1[redacted]'],
];

export function redact(text: string): string {
  let out = text;
  for (const [re, replacement] of RULES) out = out.replace(re, replacement);
  return out;
}

/** Redacts every string inside a JSON-able value (for NDJSON events). */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v)])) as T;
  }
  return value;
}
