// A container's log without a TTY comes in frames (stream, length, payload); mk logs writes the text.
import { describe, expect, it } from 'vitest';
import { demuxLog } from '../../src/drivers/docker/logs.js';

const frame = (stream: number, text: string) => {
  const payload = Buffer.from(text);
  const head = Buffer.alloc(8);
  head[0] = stream;
  head.writeUInt32BE(payload.length, 4);
  return Buffer.concat([head, payload]);
};

describe('demuxLog', () => {
  it('joins stdout and stderr frames in order', () => {
    expect(demuxLog(Buffer.concat([frame(1, 'systemd 255 running\n'), frame(2, 'Failed to mount\n'), frame(1, 'Reached target\n')]))).toBe('systemd 255 running\nFailed to mount\nReached target\n');
  });

  it('keeps a truncated last frame, and passes a log that is not multiplexed (or empty) as it is', () => {
    expect(demuxLog(frame(1, 'complete line\n').subarray(0, 8 + 8))).toBe('complete');
    expect(demuxLog(Buffer.from('plain tty output\n'))).toBe('plain tty output\n');
    expect(demuxLog(Buffer.alloc(0))).toBe('');
  });
});
