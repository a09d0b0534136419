// Streams to a pod's port through the API server's pods/portforward: client-node's PortForward (a
// WebSocket per stream), the only part of mk that loads @kubernetes/client-node. Loaded lazily.
import { KubeConfig, PortForward } from '@kubernetes/client-node';
import type { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { KubeConnectionError } from './errors.js';
import type { Credentials } from './kubeconfig.js';

export interface PodPort {
  namespace: string;
  pod: string;
  port: number;
}

/**
 * Opens a stream to a pod's port and pipes `socket` through it. Resolves once data can flow; rejects
 * without touching the socket when the stream could not be opened. After it resolves, the socket is
 * ended when the remote side closes, and the remote side closed when the socket closes;
 * `onRemoteError` receives what the remote side reported.
 */
export type PortForwarder = (target: PodPort, socket: Socket, onRemoteError: (message: string) => void) => Promise<void>;

/** The `ws` WebSocket that PortForward resolves with, as far as mk uses it. */
interface PortForwardSocket {
  on(event: 'close', cb: () => void): unknown;
  on(event: 'error', cb: (err: Error) => void): unknown;
  close(): void;
}

function kubeConfigOf(c: Credentials): KubeConfig {
  const kc = new KubeConfig();
  const b64 = (pem: string) => Buffer.from(pem).toString('base64');
  kc.loadFromOptions({
    clusters: [{ name: 'mk', server: c.server, caData: b64(c.ca), skipTLSVerify: false }],
    users: [{ name: 'mk', certData: b64(c.cert), keyData: b64(c.key) }],
    contexts: [{ name: 'mk', cluster: 'mk', user: 'mk' }],
    currentContext: 'mk',
  });
  return kc;
}

/** A PortForwarder for these credentials; opening a stream is bounded by `timeoutMs` (default 10 s), and one that opens later is closed at once. */
export function portForwarder(credentials: Credentials, opts: { timeoutMs?: number } = {}): PortForwarder {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const pf = new PortForward(kubeConfigOf(credentials), true);
  return async (target, socket, onRemoteError) => {
    let remoteError = '';
    const errors = new Writable({
      write(chunk: Buffer, _enc, done) {
        remoteError += chunk.toString('utf8');
        done();
      },
    });
    let gaveUp = false;
    let timer: NodeJS.Timeout | undefined;
    const opening = pf.portForward(target.namespace, target.pod, [target.port], socket, errors, socket) as Promise<unknown> as Promise<PortForwardSocket>;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        gaveUp = true;
        socket.destroy();
        reject(new KubeConnectionError(`port-forward did not open within ${timeoutMs / 1000}s`));
      }, timeoutMs);
    });
    opening.then(
      (ws) => {
        if (gaveUp) ws.close();
      },
      () => {},
    );
    let ws: PortForwardSocket;
    try {
      ws = await Promise.race([opening, timeout]);
    } catch (err) {
      // The `ws` ErrorEvent is not an Error, but has a message.
      const message = (err as { message?: unknown } | undefined)?.message;
      if (err instanceof Error || typeof message !== 'string') throw err;
      throw new KubeConnectionError(message);
    } finally {
      clearTimeout(timer);
    }
    ws.on('error', (err) => {
      onRemoteError(err.message);
      socket.destroy();
    });
    ws.on('close', () => {
      if (remoteError.trim()) {
        onRemoteError(remoteError.trim());
        socket.destroy();
      } else socket.end();
    });
    socket.once('close', () => ws.close());
    if (socket.destroyed) ws.close();
  };
}
