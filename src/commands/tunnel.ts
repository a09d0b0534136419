// mk tunnel NAME: forward every LoadBalancer Service port of the cluster to 127.0.0.1 until Ctrl-C,
// through the API server (context mk-NAME), for hosts that cannot reach node addresses (Docker
// Desktop on macOS/Windows, a remote DOCKER_HOST). Writes nothing into the cluster.
import { EXIT, MkError } from '../errors.js';
import { formatStreamEvent, machineFormat } from '../output/format.js';
import type { CommandContext } from './context.js';

export interface TunnelCommandOptions {
  /** How often Services and endpoints are listed again (ms). Default 2000. */
  intervalMs?: number;
  /** Kubeconfig file; default: the one mk writes (KUBECONFIG's first file, else ~/.kube/config). */
  kubeconfig?: string;
}

export async function tunnel(ctx: CommandContext, name: string, opts: TunnelCommandOptions = {}): Promise<number> {
  const { clusterAccess } = await import('../tunnel/access.js');
  const access = await clusterAccess(name, opts.kubeconfig);
  if (!access.ok) throw new MkError(`cannot reach the API server of cluster "${name}": ${access.reason}`);
  const { Tunnel, apiSource, formatTunnelEvent } = await import('../tunnel/tunnel.js');
  const machine = machineFormat(ctx.output);

  const tunnel = new Tunnel({
    source: apiSource(access.client),
    connect: await access.client.portForwarder(),
    ...(opts.intervalMs ? { pollMs: opts.intervalMs } : {}),
    onEvent: (e) => {
      switch (e.type) {
        case 'info':
        case 'warning':
          ctx.reporter.emit({ type: e.type, cluster: name, message: e.message });
          return;
        case 'debug':
          ctx.reporter.debug(e.message, { cluster: name });
          return;
        default: {
          if (!machine) return ctx.print(formatTunnelEvent(e));
          const { type, ...rest } = e;
          ctx.print(formatStreamEvent(machine, { ts: new Date().toISOString(), type, cluster: name, ...rest }));
        }
      }
    },
  });
  ctx.reporter.emit({
    type: 'info',
    cluster: name,
    message: `forwarding the LoadBalancer Services of cluster "${name}" to 127.0.0.1 through ${access.server} (context ${access.context}); Ctrl-C stops`,
  });
  try {
    await tunnel.run(ctx.signal);
  } catch (err) {
    if (ctx.signal.aborted) return EXIT.interrupted;
    throw new MkError(`cannot list the Services of cluster "${name}" through ${access.server}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  } finally {
    access.client.close();
  }
  ctx.reporter.emit({ type: 'info', cluster: name, message: 'tunnel stopped' });
  return EXIT.ok;
}
