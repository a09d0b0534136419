import { describe, expect, it } from 'vitest';
import type { ClusterPlan as Plan, ClusterStep as PlannedStep } from '../../src/reconcile/phases.js';
import { formatPlan } from '../../src/output/plan-text.js';
import { formatDuration } from '../../src/duration.js';
import type { Ora } from 'ora';
import { formatTransfer } from '../../src/log.js';
import { JsonReporter, TextReporter, type Sink } from '../../src/output/reporters.js';

// eslint-disable-next-line no-control-regex -- strips colour codes
const plain = (l: string): string => l.replace(/\x1b\[[0-9;]*m/g, '');

function captured(): Sink & { outLines: string[]; errLines: string[] } {
  const outLines: string[] = [];
  const errLines: string[] = [];
  return { outLines, errLines, out: (l) => outLines.push(l), err: (l) => errLines.push(l) };
}

const create: PlannedStep = {
  id: 'node.create:dev-worker-2',
  step: { kind: 'node.start', node: 'dev-worker-2', role: 'worker' },
  action: 'create',
  description: 'create node dev-worker-2 (worker)',
  reason: 'missing',
  dependsOn: [],
};
const join: PlannedStep = {
  id: 'kubeadm.join:dev-worker-2',
  step: { kind: 'kubeadm.join', node: 'dev-worker-2', role: 'worker' },
  action: 'create',
  description: 'kubeadm join dev-worker-2 (worker)',
  reason: 'new node',
  dependsOn: ['node.create:dev-worker-2'],
};
const remove: PlannedStep = { ...create, id: 'node.remove:dev-worker-5', action: 'remove', description: 'remove node dev-worker-5 (worker)', reason: 'scaled down' };

describe('formatPlan', () => {
  it('says "in sync" for an empty plan', () => {
    expect(formatPlan({ cluster: 'dev', file: 'clusters/dev.yaml', steps: [], warnings: [] })).toBe(
      'No changes. Cluster "dev" is in sync (clusters/dev.yaml).',
    );
  });

  it('an empty plan that could not check everything does not say "in sync"', () => {
    expect(formatPlan({ cluster: 'dev', steps: [], warnings: ['API down; addons are left as they are this run'], unchecked: ['addons'] }).split('\n')).toEqual([
      'warning: API down; addons are left as they are this run',
      'No changes planned for cluster "dev", but its addons could not be checked: not known to be in sync.',
    ]);
  });

  it('lists each step with a Terraform-like symbol and a count line', () => {
    const plan: Plan = { cluster: 'dev', steps: [create, join, remove], warnings: ['addons are not reconciled yet'] };
    expect(formatPlan(plan).split('\n')).toEqual([
      'warning: addons are not reconciled yet',
      'Plan for cluster "dev":',
      '  + create node dev-worker-2 (worker)  (missing)',
      '  + kubeadm join dev-worker-2 (worker)  (new node)',
      '  - remove node dev-worker-5 (worker)  (scaled down)',
      'Plan: 2 to create, 0 to replace, 0 to start, 0 to change, 1 to remove.',
    ]);
  });
});

describe('TextReporter (not a TTY)', () => {
  it('prints one line per finished step with its duration, never a spinner', () => {
    const sink = captured();
    const r = new TextReporter({ verbose: 0, tty: false, sink });
    r.emit({ type: 'step.started', cluster: 'dev', step: create });
    r.emit({ type: 'step.finished', cluster: 'dev', step: create, outcome: 'done', durationMs: 450 });
    r.emit({ type: 'step.finished', cluster: 'dev', step: join, outcome: 'waiting', durationMs: 0, detail: 'node dev-worker-2 is exited' });
    r.emit({ type: 'summary', cluster: 'dev', ok: false, inSync: false, counts: { done: 1, waiting: 1 }, durationMs: 1500 });
    // eslint-disable-next-line no-control-regex -- strips colour codes
    const plain = sink.outLines.map((l) => l.replace(/\x1b\[[0-9;]*m/g, ''));
    expect(plain).toEqual([
      '✓ create node dev-worker-2 (worker) 450ms',
      '… kubeadm join dev-worker-2 (worker) (waiting: node dev-worker-2 is exited) 0ms',
      'Cluster "dev" not reconciled yet: 1 done, 1 waiting in 1.5s (a prerequisite is missing; apply again once it is there, or leave mk watch running)',
    ]);
  });

  it('redacts secrets in failures and shows debug lines only when verbose', () => {
    const sink = captured();
    const quiet = new TextReporter({ verbose: 0, tty: false, sink });
    quiet.debug('hidden');
    expect(sink.errLines).toEqual([]);
    const loud = new TextReporter({ verbose: 1, tty: false, sink });
    loud.emit({ type: 'step.failed', cluster: 'dev', step: join, durationMs: 10, error: 'kubeadm join --token abcdef.0123456789abcdef failed' });
    loud.debug('exec', { argv: ['kubeadm', 'token', 'create'] });
    expect(sink.outLines.join('\n')).not.toContain('0123456789abcdef');
    expect(sink.errLines.join('\n')).toContain('debug: exec {"argv":["kubeadm","token","create"]}');
  });

  it('does not print a failed step\'s error twice: under its step line only', () => {
    const sink = captured();
    const r = new TextReporter({ verbose: 0, tty: false, sink });
    r.emit({ type: 'step.failed', cluster: 'dev', step: create, durationMs: 10, error: 'node image x is not on the Docker engine' });
    r.emit({ type: 'error', message: 'step node.create:dev-worker-2 failed: node image x is not on the Docker engine', step: create.id });
    r.emit({ type: 'error', message: 'another problem' });
    expect(sink.outLines.join('\n').match(/node image x/g)).toHaveLength(1);
    expect(sink.errLines.map(plain)).toEqual(['error: another problem']);
  });

  it('starts every line with the local time when asked (mk watch)', () => {
    const sink = captured();
    const r = new TextReporter({ verbose: 0, tty: false, sink, timestamps: true, now: () => new Date(2026, 0, 2, 3, 4, 5) });
    r.emit({ type: 'info', message: 'change detected: a.yaml' });
    r.emit({ type: 'plan', plan: { cluster: 'dev', steps: [create], warnings: [] } });
    r.emit({ type: 'warning', message: 'careful' });
    expect(sink.outLines.flatMap((l) => plain(l).split('\n'))).toEqual([
      '03:04:05 change detected: a.yaml',
      '03:04:05 Plan for cluster "dev":',
      '03:04:05   + create node dev-worker-2 (worker)  (missing)',
      '03:04:05 Plan: 1 to create, 0 to replace, 0 to start, 0 to change, 0 to remove.',
    ]);
    expect(sink.errLines.map(plain)).toEqual(['03:04:05 warning: careful']);
  });
});

describe('TextReporter (a TTY)', () => {
  it('shows a running step\'s progress (size and MB/s) in the spinner, not as lines', () => {
    const sink = captured();
    const spinner = { text: '', isSpinning: false, start() { this.isSpinning = true; return this; }, render() { return this; }, clear() { return this; }, stop() { this.isSpinning = false; return this; } };
    const r = new TextReporter({ verbose: 0, tty: true, sink, createSpinner: () => spinner as unknown as Ora });
    const load: PlannedStep = { id: 'image.load:dev-worker-1', step: { kind: 'image.load', node: 'dev-worker-1', images: ['app:dev'] }, action: 'create', description: 'load image app:dev on node dev-worker-1', reason: 'missing', dependsOn: [] };
    r.emit({ type: 'step.started', cluster: 'dev', step: load });
    r.emit({ type: 'progress', cluster: 'dev', id: load.id, bytes: 52_000_000, totalBytes: 104_000_000, elapsedMs: 2000 });
    expect(spinner.text).toBe('load image app:dev on node dev-worker-1: 52.0/104.0 MB at 26.0 MB/s');
    r.emit({ type: 'step.finished', cluster: 'dev', step: load, outcome: 'done', durationMs: 4000, detail: '104.0 MB at 26.0 MB/s' });
    r.emit({ type: 'progress', cluster: 'dev', id: load.id, bytes: 1, elapsedMs: 1 });
    expect(sink.outLines).toHaveLength(1);
    expect(spinner.isSpinning).toBe(false);
    expect(formatTransfer(1_500_000, 0)).toBe('1.5 MB');
  });
});

describe('JsonReporter', () => {
  it('writes one JSON object per event with a timestamp', () => {
    const sink = captured();
    const r = new JsonReporter({ verbose: 0, sink, now: () => new Date('2026-01-02T03:04:05Z') });
    r.emit({ type: 'plan', plan: { cluster: 'dev', steps: [create], warnings: [] } });
    r.emit({ type: 'summary', cluster: 'dev', ok: true, inSync: false, counts: { done: 1 }, durationMs: 5 });
    expect(sink.outLines).toHaveLength(2);
    const [plan, summary] = sink.outLines.map((l) => JSON.parse(l));
    expect(plan).toMatchObject({ ts: '2026-01-02T03:04:05.000Z', type: 'plan', plan: { cluster: 'dev', steps: [{ id: 'node.create:dev-worker-2' }] } });
    expect(summary).toMatchObject({ type: 'summary', ok: true, counts: { done: 1 } });
  });
});

describe('formatDuration', () => {
  it.each([
    [12, '12ms'],
    [1500, '1.5s'],
    [125_000, '2m5s'],
  ])('%d ms -> %s', (ms, text) => expect(formatDuration(ms)).toBe(text));
});

describe('mk status text', () => {
  it('shows nodes, warnings and what is out of sync, never "in sync" when something is', async () => {
    const { formatStatus, summarize } = await import('../../src/commands/status.js');
    const observed = {
      name: 'dev',
      network: { id: 'n', name: 'mk-dev', subnet: '172.28.0.0/24' },
      nodes: [{ name: 'dev-control-plane-1', pool: 'control-plane', ordinal: 1, role: 'control-plane' as const, id: 'c1', state: 'running' as const, address: '172.28.0.2', apiServerPort: 32768, image: 'img', configHash: 'h' }],
      orphanVolumes: [],
    };
    const s = summarize(observed, { cluster: 'dev', steps: [create], warnings: ['addons are not reconciled yet'] }, 'spec');
    const text = formatStatus(s).split('\n');
    expect(text[0]).toBe('cluster dev  network mk-dev 172.28.0.0/24');
    expect(text[2]).toMatch(/^ {2}dev-control-plane-1\s+control-plane\s+running\s+172\.28\.0\.2\s+127\.0\.0\.1:32768\s+img$/);
    expect(text).toContain('  sync: out of sync with the spec:');
    expect(text).toContain('    + create node dev-worker-2 (worker)  (missing)');
    expect(text.at(-1)).toBe('  warning: addons are not reconciled yet');
    expect(formatStatus(summarize(observed, undefined, 'none'))).toContain('sync: unknown');
  });

  it("names the API endpoint (mk's load balancer and its backends) and etcd's members", async () => {
    const { formatStatus, summarize } = await import('../../src/commands/status.js');
    const observed = {
      name: 'dev',
      nodes: [],
      orphanVolumes: [],
      loadBalancer: { id: 'l', name: 'dev-lb', state: 'running' as const, address: '172.28.0.9', apiServerPort: 40000, image: 'img', backends: { 'dev-cp-2': '172.28.0.3', 'dev-cp-1': '172.28.0.2' } },
      etcd: { members: [{ id: '1', name: 'dev-cp-1', peerUrls: [] }, { id: '2', name: '', peerUrls: [] }] },
    };
    const text = formatStatus(summarize(observed, undefined, 'none')).split('\n');
    expect(text).toContain('  api endpoint: load balancer dev-lb (running, 172.28.0.9, 127.0.0.1:40000) -> dev-cp-1, dev-cp-2');
    expect(text).toContain('  etcd: 2 members (dev-cp-1, (unnamed 2))');
  });

  it('says where ingress-dns answers, or why that was not read', async () => {
    const { formatStatus, summarize } = await import('../../src/commands/status.js');
    const s = summarize({ name: 'dev', nodes: [], orphanVolumes: [] }, undefined, 'none');
    expect(formatStatus({ ...s, ingressDns: { domains: ['test'], address: '172.28.0.193', via: 'load balancer' } }).split('\n')).toContain(
      '  ingress dns: 172.28.0.193 answers *.test (port 53; its LoadBalancer address): point a resolver for test there',
    );
    expect(formatStatus({ ...s, ingressDnsError: 'no control plane is running' }).split('\n')).toContain('  ingress dns: not read (no control plane is running)');
  });
});
