import { describe, expect, it } from 'vitest';
import { redact, redactDeep } from '../../src/redact.js';

describe('redact', () => {
  it.each([
    ['kubeadm join 10.0.0.1:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:1234', 'abcdef.0123456789abcdef'],
    ['--certificate-key 3f1c0e6b8e1d4a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b', '3f1c0e6b8e1d4a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b'],
    ['certificateKey: "deadbeefdeadbeef"', 'deadbeefdeadbeef'],
    ['-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----', 'b3BlbnNzaC1rZXktdjEAAAAA'],
    ['client-key-data: LS0tLS1CRUdJTiBSU0Eg', 'LS0tLS1CRUdJTiBSU0Eg'],
  ])('hides the secret in %j', (input, secret) => {
    const out = redact(input);
    expect(out).not.toContain(secret);
    expect(out).toContain('[redacted]');
  });

  it('leaves ordinary text alone', () => {
    const text = 'create node dev-worker-2 (worker) image mk.local/node:dev 172.28.0.3';
    expect(redact(text)).toBe(text);
  });

  it('redacts strings nested in events', () => {
    const e = redactDeep({ type: 'step.failed', error: 'exit 1: --token abcdef.0123456789abcdef', n: 3, list: ['token: x'] });
    expect(e).toEqual({ type: 'step.failed', error: 'exit 1: --token [redacted]', n: 3, list: ['token: [redacted]'] });
  });
});
