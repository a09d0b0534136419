import { describe, expect, it } from 'vitest';
import { CommandError, DriverError } from '../../src/errors.js';
import { MemoryDriver } from '../../src/drivers/memory.js';
import type { NodeCreateRequest } from '../../src/drivers/types.js';
import { expandNodes } from '../../src/spec/nodes.js';
import { aCluster } from './builders.js';

const cluster = aCluster('dev').withWorkers(2).build();
const req = (i: number): NodeCreateRequest => ({ node: expandNodes(cluster)[i]!, image: 'img', configHash: 'h1' });

describe('memory driver', () => {
  it('creates idempotently, observes copies, and tracks orphan volumes', async () => {
    const d = new MemoryDriver();
    await expect(d.createNode(req(1))).rejects.toThrow(DriverError); // no network yet
    await d.ensureNetwork({ cluster: 'dev' });
    const net2 = await d.ensureNetwork({ cluster: 'dev', name: 'other' });
    expect(net2.name).toBe('mk-dev');
    const a = await d.createNode(req(1));
    const b = await d.createNode(req(1));
    expect(b.id).toBe(a.id);
    const observed = await d.observe('dev');
    expect(observed.nodes.map((n) => n.name)).toEqual(['dev-worker-1']);
    observed.nodes[0]!.state = 'dead';
    expect((await d.observe('dev')).nodes[0]!.state).toBe('running');
    d.addOrphanVolume('dev', 'old-var');
    expect((await d.observe('dev')).orphanVolumes).toEqual(['old-var']);
    await d.removeVolume('dev', 'old-var');
    await d.removeNode('dev', 'dev-worker-1');
    await d.removeNode('dev', 'dev-worker-1'); // already gone: tolerated
    expect(await d.observe('dev')).toMatchObject({ nodes: [], orphanVolumes: [] });
    expect(await d.listClusters()).toEqual(['dev']);
    await d.removeNetwork('dev');
    expect(await d.listClusters()).toEqual([]);
    expect(d.calls.createNode).toBe(3);
    expect(d.mutatingCalls).toBe(3 + 2 + 1 + 2 + 1);
  });

  it('injects failures and delays, honours abort', async () => {
    const d = new MemoryDriver({ failOn: { createNode: 'dev-worker-2' }, delayMs: { createNode: 1000 } });
    await d.ensureNetwork({ cluster: 'dev' });
    const ac = new AbortController();
    const pending = d.createNode(req(1), ac.signal);
    ac.abort();
    await expect(pending).rejects.toThrow(/abort/i);
    expect(d.nodes.size).toBe(0);
    const fast = new MemoryDriver({ failOn: { createNode: (n) => n.endsWith('-2') } });
    await fast.ensureNetwork({ cluster: 'dev' });
    await expect(fast.createNode(req(2))).rejects.toThrow(/injected failure in createNode\(dev-worker-2\)/);
  });

  it('records exec argv and returns configured results', async () => {
    const d = new MemoryDriver({ onExec: (_n, argv) => ({ stdout: argv.join(' '), stderr: 'bad', exitCode: argv[0] === 'false' ? 1 : 0 }) });
    await d.ensureNetwork({ cluster: 'dev' });
    await d.createNode(req(0));
    const h = d.node('dev', 'dev-control-plane-1');
    expect((await h.exec(['echo', 'hi'])).stdout).toBe('echo hi');
    await expect(h.run(['false'])).rejects.toBeInstanceOf(CommandError);
    await h.writeFile('/etc/x', 'secret', 0o600);
    expect(d.execs.map((e) => e.argv)).toEqual([['echo', 'hi'], ['false'], ['write', '/etc/x']]);
    d.setState('dev-control-plane-1', 'stopped');
    await expect(h.exec(['true'])).rejects.toThrow(/not running/);
  });
});
