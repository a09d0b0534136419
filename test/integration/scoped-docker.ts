// A Docker endpoint for one test that shows it only its own clusters: a proxy on a unix socket in front
// of the real engine that hides, from listings of every mk cluster (the label filter "mk.dev/cluster"
// without a value: what listClusters asks), the clusters whose name does not start with the test's
// prefix. Everything else passes as it is. So `mk delete --all` can run while other tests' clusters
// are on the same engine. Not a test file.
import { createServer, request, type IncomingMessage } from 'node:http';
import { join } from 'node:path';

const ENGINE = '/var/run/docker.sock';
const LISTING = /\/(containers\/json|networks|volumes)$/;

type Labelled = { Labels?: Record<string, string> | null };

function listsEveryCluster(filters: string | null): boolean {
  try {
    return (JSON.parse(filters ?? '{}') as { label?: string[] }).label?.includes('mk.dev/cluster') === true;
  } catch {
    return false;
  }
}

async function body(res: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of res) text += String(chunk);
  return text;
}

export interface ScopedDocker {
  /** DOCKER_HOST for mk. */
  host: string;
  close(): Promise<void>;
}

export async function scopedDocker(dir: string, prefix: string): Promise<ScopedDocker> {
  const socket = join(dir, 'docker.sock');
  const keep = (o: Labelled) => !o.Labels?.['mk.dev/cluster'] || o.Labels['mk.dev/cluster'].startsWith(prefix);
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://engine');
    const scoped = req.method === 'GET' && LISTING.test(url.pathname) && listsEveryCluster(url.searchParams.get('filters'));
    const upstream = request({ socketPath: ENGINE, method: req.method, path: req.url, headers: req.headers }, (up) => {
      if (!scoped || up.statusCode !== 200) {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
        return;
      }
      void body(up).then((text) => {
        const parsed = JSON.parse(text) as Labelled[] | { Volumes?: Labelled[] | null };
        const filtered = Array.isArray(parsed) ? parsed.filter(keep) : { ...parsed, Volumes: (parsed.Volumes ?? []).filter(keep) };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(filtered));
      });
    });
    upstream.on('error', (err) => res.destroy(err));
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return { host: `unix://${socket}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
