// mk's run log: everything a run reports, debug lines included whatever -v says, redacted, 0600 in
// a 0700 folder under $MK_HOME, rotated by size and count; a log that cannot be written never fails a run.
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withRunLog } from '../../src/commands/apply.js';
import { RecordingReporter } from '../../src/log.js';
import { RunLog, runLogDir, runLogFiles } from '../../src/output/run-log.js';
import { TextReporter } from '../../src/output/reporters.js';
import { testContext } from '../helpers/context.js';

const TOKEN = 'abcdef.0123456789abcdef';
const KEY = '-----BEGIN RSA PRIVATE KEY-----\nMIIEsecret\n-----END RSA PRIVATE KEY-----';
let home: string;

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'mk-run-log-'));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

const records = async (file: string) => (await readFile(join(runLogDir('dev', home), file), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('run log', () => {
  it('keeps every event and debug line (the terminal shows no debug at -v 0), redacted, in a 0600 file of a 0700 folder', async () => {
    const shown: string[] = [];
    const text = new TextReporter({ verbose: 0, tty: false, sink: { out: (l) => shown.push(l), err: (l) => shown.push(l) } });
    const log = new RunLog({ cluster: 'dev', command: 'apply', argv: ['apply', '-f', 'dev.yaml'], home });
    const reporter = log.tee(text);
    reporter.emit({ type: 'info', cluster: 'dev', message: `joined with ${TOKEN}` });
    reporter.debug('docker exec', { node: 'dev-worker-1', stdin: KEY });
    log.failed(new Error('step kubeadm.join:dev-worker-1 failed'));
    log.close();

    expect(shown).toEqual([`joined with abcdef.[redacted]`]);
    const files = await runLogFiles('dev', home);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d-\\d\\d-\\d\\d\\.\\d{3}Z-apply-${process.pid}\\.log$`));
    expect((await stat(join(runLogDir('dev', home), files[0]!))).mode & 0o777).toBe(0o600);
    expect((await stat(runLogDir('dev', home))).mode & 0o777).toBe(0o700);
    const lines = await records(files[0]!);
    expect(lines.map((l) => l.type)).toEqual(['run', 'info', 'debug', 'error']);
    expect(lines[0]).toMatchObject({ cluster: 'dev', command: 'apply', pid: process.pid, argv: ['apply', '-f', 'dev.yaml'] });
    expect(lines[2]).toMatchObject({ message: 'docker exec', context: { node: 'dev-worker-1' } });
    expect(lines[3]).toMatchObject({ message: 'step kubeadm.join:dev-worker-1 failed', stack: expect.stringContaining('run-log.test.ts') });
    const raw = JSON.stringify(lines);
    expect(raw).not.toContain(TOKEN);
    expect(raw).not.toContain('MIIEsecret');
  });

  it('begins a new file at maxBytes and keeps only the newest files', async () => {
    let t = Date.parse('2026-01-01T00:00:00Z');
    const log = new RunLog({ cluster: 'dev', command: 'watch', home, keep: 3, maxBytes: 1000, now: () => new Date((t += 1000)) });
    for (let i = 0; i < 100; i++) log.write({ type: 'debug', message: `line ${i} ${'x'.repeat(80)}` });
    log.close();
    const files = await runLogFiles('dev', home);
    expect(files).toHaveLength(3);
    for (const f of files) expect((await stat(join(runLogDir('dev', home), f))).size).toBeLessThanOrEqual(1000);
    // The newest lines are kept, the last one in the newest file.
    const last = await records(files[2]!);
    expect(last.at(-1)).toMatchObject({ message: expect.stringMatching(/^line 99 /) });
    expect(last[0]).toMatchObject({ type: 'run', command: 'watch', part: expect.any(Number) });
  });

  it('a log that cannot be written is said once and the run goes on', async () => {
    await writeFile(join(home, 'clusters'), 'not a folder');
    const errors: string[] = [];
    const inner = new RecordingReporter();
    const log = new RunLog({ cluster: 'dev', command: 'apply', home, onError: (e) => errors.push(e.message) });
    const reporter = log.tee(inner);
    reporter.emit({ type: 'info', message: 'one' });
    reporter.emit({ type: 'info', message: 'two' });
    expect(inner.events).toHaveLength(2);
    expect(errors).toHaveLength(1);
  });

  it("withRunLog: a command's work on a cluster goes to that cluster's log, with the error that ended it", async () => {
    const saved = process.env.MK_HOME;
    process.env.MK_HOME = home;
    try {
      const ctx = testContext({ command: 'delete' });
      await expect(
        withRunLog(ctx, 'dev', async (reporter) => {
          reporter.emit({ type: 'info', cluster: 'dev', message: 'removing' });
          throw new Error('docker went away');
        }),
      ).rejects.toThrow('docker went away');
      ctx.runLog('dev').close();
      expect(ctx.reporter.events).toEqual([{ type: 'info', cluster: 'dev', message: 'removing' }]);
      const [file] = await readdir(runLogDir('dev', home));
      expect(file).toMatch(/-delete-\d+\.log$/);
      expect((await records(file!)).map((l) => [l.type, l.message])).toEqual([['run', undefined], ['info', 'removing'], ['error', 'docker went away']]);
    } finally {
      if (saved === undefined) delete process.env.MK_HOME;
      else process.env.MK_HOME = saved;
    }
  });
});
