// A container's log as the Docker API gives it without a TTY: frames of an 8-byte header (stream
// 1 stdout, 2 stderr; 4-byte big-endian length) and the payload. Pure.

/** The payloads of a multiplexed log, in order; a truncated last frame keeps what arrived. */
export function demuxLog(buf: Buffer): string {
  if (buf.length < 8) return buf.toString('utf8');
  const parts: Buffer[] = [];
  let at = 0;
  while (at + 8 <= buf.length) {
    const stream = buf[at]!;
    if (stream > 2 || buf[at + 1] !== 0 || buf[at + 2] !== 0 || buf[at + 3] !== 0) return buf.toString('utf8'); // not multiplexed (a TTY container)
    const size = buf.readUInt32BE(at + 4);
    parts.push(buf.subarray(at + 8, Math.min(buf.length, at + 8 + size)));
    at += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}
