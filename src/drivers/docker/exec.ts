// Run argv in a container through the exec API: stdout and stderr demultiplexed, stdin written
// (or piped from a stream, at the command's pace) then closed, the stream drained before the exit
// code is read from exec inspect.
import { Readable, Writable } from 'node:stream';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type Dockerode from 'dockerode';
import type { ExecOptions, ExecResult } from '../types.js';
import { AbortedError, DriverError } from '../../errors.js';

export interface Modem {
  demuxStream(stream: NodeJS.ReadableStream, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): void;
}

/** Polls exec inspect this long for the exit code after the stream ended (Docker can lag a few ms). */
const EXIT_CODE_WAIT_MS = 5_000;

export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortedError(`interrupted: ${what}`);
}

function collector(chunks: Buffer[]): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
}

export async function execInContainer(docker: Dockerode, containerId: string, argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const { signal } = opts;
  if (argv.length === 0) throw new DriverError('exec needs a non-empty argv');
  throwIfAborted(signal, `exec ${argv[0]}`);
  const withStdin = opts.stdin !== undefined;
  const exec = await docker.getContainer(containerId).exec({
    Cmd: [...argv],
    AttachStdin: withStdin,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    ...(opts.env ? { Env: Object.entries(opts.env).map(([k, v]) => `${k}=${v}`) } : {}),
    ...(opts.user ? { User: opts.user } : {}),
    ...(signal ? { abortSignal: signal } : {}),
  });
  throwIfAborted(signal, `exec ${argv[0]}`);
  const stream = (await exec.start({ hijack: true, stdin: withStdin, Tty: false, ...(signal ? { abortSignal: signal } : {}) })) as Duplex;

  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  const input = opts.stdin instanceof Readable ? opts.stdin : undefined;
  const ended = new Promise<void>((resolve, reject) => {
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      // A command that ended (or failed) before it read all of its input ends the input too.
      if (input && !input.readableEnded) {
        input.unpipe(stream);
        input.destroy();
      }
      if (err) reject(err);
      else resolve();
    };
    const onAbort = () => {
      stream.destroy();
      finish(new AbortedError(`interrupted: exec ${argv[0]} (the process may still run in the container)`));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    stream.on('end', () => finish());
    stream.on('close', () => finish());
    // Writing to a command that exited: its exit code and stderr say why, not the broken pipe.
    stream.on('error', (err: NodeJS.ErrnoException) => finish(input && (err.code === 'EPIPE' || err.code === 'ECONNRESET') ? undefined : err));
    input?.on('error', (err: Error) => {
      stream.destroy();
      finish(new DriverError(`exec ${argv[0]}: its input failed: ${err.message}`, { cause: err }));
    });
  });
  (docker.modem as Modem).demuxStream(stream, collector(stdout), collector(stderr));
  if (input) {
    // Ends (half-closes) the exec stream when the input ends: the command sees EOF.
    input.pipe(stream);
  } else if (withStdin) {
    const data = opts.stdin ?? '';
    stream.write(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  }
  // Half-close: the command sees EOF on stdin (or immediately, when there is none).
  if (withStdin && !input) stream.end();
  await ended;

  const exitCode = await readExitCode(exec, signal);
  return { stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8'), exitCode };
}

export async function readExitCode(exec: Dockerode.Exec, signal: AbortSignal | undefined): Promise<number> {
  const deadline = Date.now() + EXIT_CODE_WAIT_MS;
  for (;;) {
    const info = await exec.inspect(signal ? { abortSignal: signal } : {});
    if (!info.Running && typeof info.ExitCode === 'number') return info.ExitCode;
    if (Date.now() > deadline) throw new DriverError(`exec ${exec.id}: no exit code ${EXIT_CODE_WAIT_MS} ms after its output ended`);
    throwIfAborted(signal, 'exec inspect');
    await sleep(20);
  }
}
