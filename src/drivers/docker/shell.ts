// mk ssh on a Docker node: an exec whose streams are the user's. With a terminal, a pseudo-terminal
// is allocated in the node (raw bytes both ways, resized with the user's); without one, stdout and
// stderr are demultiplexed and the end of stdin reaches the command as EOF.
import type { Duplex } from 'node:stream';
import type Dockerode from 'dockerode';
import { AbortedError, DriverError } from '../../errors.js';
import type { ShellRequest } from '../types.js';
import { readExitCode, throwIfAborted, type Modem } from './exec.js';

/** The node's login shell: bash where the image has it, else sh. A constant: nothing from a spec. */
export const LOGIN_SHELL = ['sh', '-c', 'if command -v bash >/dev/null 2>&1; then exec bash -l; fi; exec sh -l'] as const;

export async function shellInContainer(docker: Dockerode, containerId: string, req: ShellRequest): Promise<number> {
  const { tty, signal } = req;
  const argv = req.argv ?? LOGIN_SHELL;
  if (argv.length === 0) throw new DriverError('mk ssh needs a command after --, or none for a shell');
  throwIfAborted(signal, `exec ${argv[0]}`);
  const exec = await docker.getContainer(containerId).exec({
    Cmd: [...argv],
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: tty !== undefined,
    ...(tty ? { Env: [`TERM=${tty.term}`] } : {}),
  });
  const stream = (await exec.start({ hijack: true, stdin: true, Tty: tty !== undefined })) as Duplex;
  if (tty) stream.on('data', (d: Buffer) => req.stdout.write(d));
  else (docker.modem as Modem).demuxStream(stream, req.stdout, req.stderr);

  const resize = (): void => {
    const { columns, rows } = tty!.size();
    // A session that just ended cannot be resized: nothing to report.
    exec.resize({ h: rows, w: columns }).catch(() => undefined);
  };
  if (tty) resize();
  const unsubscribe = tty ? tty.onResize(resize) : () => {};
  const forward = (d: Buffer): void => void stream.write(d);
  // The end of the user's input is the command's EOF (half-close); a terminal's input never ends.
  const endInput = (): void => void stream.end();
  req.stdin.on('data', forward);
  req.stdin.once('end', endInput);
  try {
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        stream.destroy();
        reject(new AbortedError(`interrupted: exec ${argv[0]} (the process may still run in the node)`));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const finish = (err?: Error): void => {
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      stream.once('end', () => finish());
      stream.once('close', () => finish());
      stream.once('error', finish);
    });
  } finally {
    unsubscribe();
    req.stdin.off('data', forward);
    req.stdin.off('end', endInput);
  }
  return readExitCode(exec, signal);
}
