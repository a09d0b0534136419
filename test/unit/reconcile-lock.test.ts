import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LockedError } from '../../src/errors.js';
import { acquireClusterLock, pidAlive, withClusterLock } from '../../src/reconcile/lock.js';

let home: string;
let bundle: string;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'mk-lock-'));
  // The second process runs the real lock module, bundled to plain JS.
  bundle = join(home, 'lock.cjs');
  await build({ entryPoints: [new URL('../../src/reconcile/lock.ts', import.meta.url).pathname], bundle: true, platform: 'node', format: 'cjs', outfile: bundle, logLevel: 'silent' });
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

const holderFile = (name: string) => join(home, 'clusters', name, 'lock');
const locked = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

/** Starts `node` holding the lock; resolves once it reports it has it. */
async function holderProcess(name: string) {
  const script = `require(${JSON.stringify(bundle)}).acquireClusterLock(${JSON.stringify(name)}, { home: ${JSON.stringify(home)} })
    .then(() => { process.stdout.write('locked\\n'); setInterval(() => {}, 1000); }, (e) => { process.stderr.write(String(e)); process.exit(2); });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => (d.toString().includes('locked') ? resolve() : undefined));
    child.once('exit', (code) => reject(new Error(`holder exited ${code}: ${err}`)));
  });
  return { child, exited };
}

describe('cluster lock', () => {
  it('two acquirers in one process: the second fails fast naming the holder', async () => {
    const first = await acquireClusterLock('one', { home });
    const t0 = Date.now();
    const err = await locked(acquireClusterLock({ metadata: { name: 'one' } }, { home }));
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(err).toBeInstanceOf(LockedError);
    expect((err as LockedError).holder).toEqual({ pid: process.pid, host: hostname(), since: first.holder.since });
    expect((err as LockedError).message).toContain(`pid ${process.pid}`);
    expect(JSON.parse(await readFile(holderFile('one'), 'utf8'))).toEqual(first.holder);
    await first.release();
    await first.release(); // idempotent
    await expect(readFile(holderFile('one'), 'utf8')).rejects.toThrow(/ENOENT/);
    const again = await acquireClusterLock('one', { home });
    await again.release();
  });

  it('locks are per cluster', async () => {
    const a = await acquireClusterLock('a', { home });
    const b = await acquireClusterLock('b', { home });
    await Promise.all([a.release(), b.release()]);
  });

  it('a live holder in another process blocks; once SIGKILLed the lock is taken over at once', async () => {
    const { child, exited } = await holderProcess('killed');
    const err = await locked(acquireClusterLock('killed', { home }));
    expect(err).toBeInstanceOf(LockedError);
    expect((err as LockedError).holder?.pid).toBe(child.pid);
    child.kill('SIGKILL');
    await exited;
    expect(pidAlive(child.pid!)).toBe(false);
    const t0 = Date.now();
    const lock = await acquireClusterLock('killed', { home }); // no waiting for the 15 s stale time
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(lock.holder.pid).toBe(process.pid);
    await lock.release();
  });

  it('a dead pid on another host is not taken over (it may be alive there); on this host it is', async () => {
    const first = await acquireClusterLock('remote', { home, staleMs: 2000, updateMs: 1000 });
    const deadPid = 2 ** 22 + 12345; // above pid_max on typical Linux
    expect(pidAlive(deadPid)).toBe(false);
    await writeFile(holderFile('remote'), JSON.stringify({ pid: deadPid, host: 'elsewhere.example', since: 'x' }));
    const err = await locked(acquireClusterLock('remote', { home }));
    expect((err as LockedError).holder).toMatchObject({ host: 'elsewhere.example' });
    await writeFile(holderFile('remote'), JSON.stringify({ pid: deadPid, host: hostname(), since: 'x' }));
    const taken = await acquireClusterLock('remote', { home });
    // The old holder learns that it lost the lock on its next refresh.
    await new Promise<void>((resolve) => first.compromised.addEventListener('abort', () => resolve(), { once: true }));
    expect(first.compromised.aborted).toBe(true);
    await first.release();
    await taken.release();
  }, 10_000);

  it('the signal work gets under the lock takes many listeners at once without a MaxListenersExceededWarning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      // An image load asks the engine about each of a dozen images at once, each request listening on the signal.
      await withClusterLock('listeners', new AbortController().signal, async (signal) => {
        for (let i = 0; i < 20; i++) signal.addEventListener('abort', () => {});
      }, { home });
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).not.toContain('MaxListenersExceededWarning');
  });

  it('work under a lock that another mk takes over is stopped, and fails with exit 3 naming the new holder', async () => {
    let stoppedBy: unknown;
    const work = withClusterLock('stolen', new AbortController().signal, (signal) =>
      new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject((stoppedBy = signal.reason)), { once: true })),
      { home, staleMs: 2000, updateMs: 1000 },
    );
    const failure = locked(work);
    // This holder looks dead (a killed mk on this host), so a second mk takes the lock over.
    await new Promise((r) => setTimeout(r, 100));
    const deadPid = 2 ** 22 + 54321;
    await writeFile(holderFile('stolen'), JSON.stringify({ pid: deadPid, host: hostname(), since: 'x' }));
    const taken = await acquireClusterLock('stolen', { home });
    const err = (await failure) as LockedError;
    expect(stoppedBy).toBeDefined();
    expect(err).toBeInstanceOf(LockedError);
    expect(err.exitCode).toBe(3);
    expect(err.holder).toEqual(taken.holder);
    expect(err.message).toMatch(/^lost the lock of cluster "stolen": another mk \(pid \d+ on .+\) took it over/);
    await taken.release();
  }, 10_000);
});
