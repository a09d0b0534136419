// `mk status` without a name lists ssh clusters (from the host inventory in $MK_HOME) as well as
// Docker's, each observed through its own driver. Loopback only: Docker on port 1 does not answer,
// nor does the ssh host (127.0.0.1 port 1), which is then shown as unreachable.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { status } from '../../src/commands/status.js';
import { HostInventory } from '../../src/drivers/ssh/inventory.js';
import { testContext } from '../helpers/context.js';

const ENV = ['MK_HOME', 'HOME', 'DOCKER_HOST', 'SSH_AUTH_SOCK'] as const;
const saved = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mk-status-list-'));
  process.env.MK_HOME = join(dir, 'mk-home');
  process.env.HOME = dir;
  process.env.DOCKER_HOST = 'tcp://127.0.0.1:1';
  // An agent socket, so the driver has a way to authenticate (it is never reached).
  process.env.SSH_AUTH_SOCK = join(dir, 'agent.sock');
});
afterEach(async () => {
  for (const k of ENV) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  await rm(dir, { recursive: true, force: true });
});

describe('mk status without a name', () => {
  it('lists an ssh cluster from the host inventory, observed over ssh, and warns that Docker could not be asked', async () => {
    await new HostInventory(process.env.MK_HOME!).remember('edge', 'edge-cp-1', { address: '127.0.0.1', port: 1, pool: 'cp', ordinal: 1, role: 'control-plane', configHash: 'h' });
    const ctx = testContext();
    // Listed, but not healthy: its host does not answer (status exits 5, like minikube status for a stopped cluster).
    expect(await status(ctx, undefined, undefined)).toBe(5);
    const text = ctx.lines.join('\n');
    expect(text).toMatch(/^cluster edge$/m);
    expect(text).toMatch(/^ {2}edge-cp-1\s+control-plane\s+unreachable\s+127\.0\.0\.1\b/m);
    expect(text).toMatch(/^ {2}health: NOT OK\n {4}node edge-cp-1: unreachable$/m);
    expect(ctx.reporter.events).toContainEqual(expect.objectContaining({ type: 'warning', message: expect.stringMatching(/^Docker clusters are not listed: /) }));
  });

  it('says there are no clusters when neither Docker nor the inventory knows one', async () => {
    const ctx = testContext({ output: 'json' });
    expect(await status(ctx, undefined, undefined)).toBe(0);
    expect(JSON.parse(ctx.lines.join(''))).toEqual({ clusters: [] });
  });
});
