// mk watch prints an error that comes back at every drift check once; a save prints it again only
// when the spec it read is another one (a late file event for a save a drift check already read is
// not news).
import { describe, expect, it } from 'vitest';
import { RepeatedErrors } from '../../src/commands/watch.js';
import { RecordingReporter } from '../../src/log.js';

const missing = { type: 'error' as const, message: 'cluster.yaml does not exist' };
const interval = { kind: 'interval' as const };
const change = { kind: 'change' as const, files: ['cluster.yaml'] };

describe('mk watch: repeated errors', () => {
  it('a drift check that read the save first, then its late file event: printed once', () => {
    const r = new RecordingReporter();
    const errors = new RepeatedErrors(r);
    errors.report('', missing, interval, 'spec-A');
    errors.report('', missing, change, 'spec-A');
    errors.report('', missing, interval, 'spec-A');
    expect(r.events.filter((e) => e.type === 'error')).toHaveLength(1);
  });

  it('a save that changes the spec but not the error prints it again; a new error is printed at once', () => {
    const r = new RecordingReporter();
    const errors = new RepeatedErrors(r);
    errors.report('', missing, interval, 'spec-A');
    errors.report('', missing, change, 'spec-B');
    errors.report('dev', { type: 'error', message: 'engine down' }, interval, 'spec-B');
    errors.clear('');
    errors.report('', missing, interval, 'spec-B');
    expect(r.events.filter((e) => e.type === 'error').map((e) => (e as { message: string }).message)).toEqual(['cluster.yaml does not exist', 'cluster.yaml does not exist', 'engine down', 'cluster.yaml does not exist']);
  });
});
