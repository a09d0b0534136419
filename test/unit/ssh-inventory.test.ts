// The local ssh host inventory ($MK_HOME/clusters/NAME/ssh-hosts.json) and the drivers' error for
// failures on several hosts. Files only: no host is contacted.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DriverError } from '../../src/errors.js';
import { InventoryError, hostsFailed } from '../../src/drivers/errors.js';
import { SshDriver } from '../../src/drivers/ssh/driver.js';
import { HostInventory, inventoryClusters, inventoryPath, parseInventory, readInventory } from '../../src/drivers/ssh/inventory.js';
import type { InventoryEntry } from '../../src/drivers/ssh/inventory.js';

const entry: InventoryEntry = { address: '10.0.0.5', user: 'mk', pool: 'w', ordinal: 1, role: 'worker', configHash: 'h1' };

let home: string;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'mk-inventory-'));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

async function writeInventory(cluster: string, text: string): Promise<string> {
  const path = inventoryPath(cluster, home);
  await mkdir(join(home, 'clusters', cluster), { recursive: true });
  await writeFile(path, text);
  return path;
}

describe('ssh host inventory', () => {
  it('remembers and forgets hosts; a missing file is an empty inventory', async () => {
    const inv = new HostInventory(home);
    expect(await inv.read('edge')).toEqual({});
    await Promise.all([inv.remember('edge', 'edge-w-1', entry), inv.remember('edge', 'edge-w-2', { ...entry, address: '10.0.0.6', ordinal: 2 })]);
    expect(Object.keys(await readInventory('edge', home)).sort()).toEqual(['edge-w-1', 'edge-w-2']);
    await inv.forget('edge', 'edge-w-1');
    expect(JSON.parse(await readFile(inv.path('edge'), 'utf8'))).toEqual({ nodes: { 'edge-w-2': { ...entry, address: '10.0.0.6', ordinal: 2 } } });
  });

  it('refuses a corrupt file, naming it and the way out, and does not overwrite it', async () => {
    const path = await writeInventory('edge', '{"nodes": {"edge-w-1": {"address": "10.0.0.5",');
    const err = await readInventory('edge', home).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InventoryError);
    expect(err).toBeInstanceOf(DriverError);
    expect((err as InventoryError).path).toBe(path);
    expect((err as Error).message).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not valid JSON \\(`));
    expect((err as Error).message).toContain('Fix the file, or delete it');
    await expect(new HostInventory(home).remember('edge', 'edge-w-2', entry)).rejects.toThrow(InventoryError);
    expect(await readFile(path, 'utf8')).toBe('{"nodes": {"edge-w-1": {"address": "10.0.0.5",');
  });

  it('refuses valid JSON that is not an inventory, naming the node at fault', () => {
    expect(() => parseInventory('[]', '/x/ssh-hosts.json')).toThrow('/x/ssh-hosts.json: no "nodes" object');
    expect(() => parseInventory('{"nodes": {"a": {"address": "h", "pool": "w", "ordinal": 1, "role": "boss", "configHash": ""}}}', '/x')).toThrow(
      '/x: node "a": "role" is neither control-plane nor worker',
    );
    expect(() => parseInventory('{"nodes": {"a": {"pool": "w"}}}', '/x')).toThrow('/x: node "a": no "address"');
    expect(parseInventory(JSON.stringify({ nodes: { a: entry } }), '/x')).toEqual({ a: entry });
  });

  it('the ssh driver refuses a corrupt inventory instead of forgetting the hosts it lists', async () => {
    const path = await writeInventory('edge', 'not json');
    const driver = new SshDriver({ cluster: 'edge', options: {}, nodes: [], cri: 'containerd', mkHome: home, home, sshConfig: false });
    try {
      await expect(driver.observe('edge')).rejects.toThrow(`${path}: not valid JSON`);
      await expect(driver.removeNode('edge', 'edge-w-1')).rejects.toThrow(InventoryError);
    } finally {
      await driver.close();
    }
  });

  it('lists the clusters that remember hosts; an unreadable inventory is reported, not listed', async () => {
    expect(await inventoryClusters(home)).toEqual({ clusters: [], errors: [] });
    await new HostInventory(home).remember('edge', 'edge-w-1', entry);
    await new HostInventory(home).remember('gone', 'gone-w-1', entry);
    await new HostInventory(home).forget('gone', 'gone-w-1');
    await mkdir(join(home, 'clusters', 'docker-only'), { recursive: true });
    await writeFile(join(home, 'clusters', 'docker-only', 'last-applied.json'), '{}');
    const bad = await writeInventory('broken', '');
    const { clusters, errors } = await inventoryClusters(home);
    expect(clusters).toEqual(['edge']);
    expect(errors.map((e) => e.path)).toEqual([bad]);
  });
});

describe('failures on several hosts', () => {
  it('is one error naming every host with its error; identical messages share a line; the originals are an AggregateError', () => {
    const auth = new DriverError('no way to authenticate: set spec.driver.ssh.identityFile');
    const other = new DriverError('command failed on host edge-w-3 (10.0.0.7) (exit 1): sh\npermission denied');
    const err = hostsFailed([
      { host: 'edge-w-1', error: auth },
      { host: 'edge-w-2', error: auth },
      { host: 'edge-w-3', error: other },
    ]);
    expect(err).toBeInstanceOf(DriverError);
    expect(err.message).toBe(
      '3 hosts failed:\n' +
        '  edge-w-1, edge-w-2: no way to authenticate: set spec.driver.ssh.identityFile\n' +
        '  edge-w-3: command failed on host edge-w-3 (10.0.0.7) (exit 1): sh\n    permission denied',
    );
    expect(err.cause).toBeInstanceOf(AggregateError);
    expect((err.cause as AggregateError).errors).toEqual([auth, auth, other]);
  });

  it('a single failure is that error itself', () => {
    const one = new DriverError('ssh to edge-w-1 (mk@10.0.0.5): authentication failed');
    expect(hostsFailed([{ host: 'edge-w-1', error: one }])).toBe(one);
  });
});
