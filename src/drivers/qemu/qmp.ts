// A QEMU Machine Protocol client for the one thing mk asks over it: commands without arguments
// (system_powerdown, quit, query-status). JSON lines over the VM's unix socket: the greeting,
// qmp_capabilities, then the command; the reply's "return" or "error".
import { connect } from 'node:net';
import { DriverError } from '../../errors.js';

export async function qmp(socket: string, command: string, timeoutMs = 5000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const conn = connect(socket);
    let buffered = '';
    let stage: 'greeting' | 'capabilities' | 'command' = 'greeting';
    const done = (err: Error | undefined, value?: unknown): void => {
      clearTimeout(timer);
      conn.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(() => done(new DriverError(`QMP ${command} on ${socket}: no answer within ${timeoutMs} ms`)), timeoutMs);
    conn.on('error', (err) => done(new DriverError(`QMP ${command} on ${socket}: ${err.message}`, { cause: err })));
    conn.on('close', () => done(new DriverError(`QMP ${command} on ${socket}: closed before answering`)));
    conn.on('data', (chunk) => {
      buffered += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line === '') continue;
        let msg: { QMP?: unknown; return?: unknown; error?: { desc?: string }; event?: string };
        try {
          msg = JSON.parse(line) as typeof msg;
        } catch {
          return done(new DriverError(`QMP ${command} on ${socket}: not JSON: ${line.slice(0, 80)}`));
        }
        if (msg.event) continue;
        if (msg.error) return done(new DriverError(`QMP ${command}: ${msg.error.desc ?? 'error'}`));
        if (stage === 'greeting' && msg.QMP) {
          stage = 'capabilities';
          conn.write(JSON.stringify({ execute: 'qmp_capabilities' }) + '\n');
        } else if (stage === 'capabilities' && 'return' in msg) {
          stage = 'command';
          conn.write(JSON.stringify({ execute: command }) + '\n');
        } else if (stage === 'command' && 'return' in msg) {
          return done(undefined, msg.return);
        }
      }
    });
  });
}
