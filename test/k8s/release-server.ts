// A stand-in for the Kubernetes release site (MK_KUBERNETES_RELEASE_URL), since this machine has no
// internet: serves <version>/bin/linux/amd64/{kubeadm,kubelet,kubectl}[.sha256] from the test bed's
// binaries on 127.0.0.1 and records every request.
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export interface ReleaseServer {
  url: string;
  /** Request paths, in order. */
  requests: string[];
  close: () => void;
}

/** `tamper` names a binary served with altered bytes (its .sha256 stays the real one). */
export function releaseServer(binDir: string, version: string, opts: { tamper?: string } = {}): Promise<ReleaseServer> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      requests.push(req.url ?? '');
      const m = /^\/(v[^/]+)\/bin\/linux\/amd64\/(kubeadm|kubelet|kubectl)(\.sha256)?$/.exec(req.url ?? '');
      if (!m || m[1] !== version) {
        res.writeHead(404).end();
        return;
      }
      const data = await readFile(path.join(binDir, m[2]!));
      if (m[3]) res.end(createHash('sha256').update(data).digest('hex'));
      else res.end(m[2] === opts.tamper ? Buffer.concat([data, Buffer.from('x')]) : data);
    })().catch(() => res.writeHead(500).end());
  });
  return new Promise((done) =>
    server.listen(0, '127.0.0.1', () => done({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, requests, close: () => server.close() })),
  );
}
