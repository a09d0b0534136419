// mk's load balancer in front of a cluster's control planes: haproxy in TCP mode, from the node
// image (which carries Debian's haproxy), one container per cluster on the cluster network. It
// sends each connection to a control plane whose API server answers /readyz, and drops the
// connections of one that stops answering, so clients reconnect to another. Pure: the
// configuration, what it lists, and the commands that run and reload it.

/** Where the configuration lives in the container. */
export const LB_CONFIG = '/usr/local/etc/mk/haproxy.cfg';
/** The port it listens on (inside the cluster network), the API server's. */
export const LB_PORT = 6443;
/** haproxy in master-worker mode in the foreground, as the container's process 1. */
export const LB_COMMAND: readonly string[] = ['haproxy', '-W', '-db', '-f', LB_CONFIG];
/** Checks a configuration before it replaces the running one (a bad one is never loaded). */
export const lbCheckArgv = (path: string): string[] => ['haproxy', '-c', '-q', '-f', path];
/** The master reloads its configuration on SIGUSR2: new workers, open connections kept. */
export const LB_RELOAD: readonly string[] = ['kill', '-USR2', '1'];

export interface LbBackend {
  name: string;
  address: string;
}

/** Health checks every second: a control plane is out after 2 failed checks, in again after 2 good ones. */
export function renderLbConfig(backends: readonly LbBackend[]): string {
  const servers = [...backends].sort((a, b) => a.name.localeCompare(b.name)).map((b) => `  server ${b.name} ${b.address.includes(':') ? `[${b.address}]` : b.address}:${LB_PORT}`);
  return [
    '# Written by mk: the API endpoint of this cluster, in front of its control planes.',
    'global',
    '  log stdout format raw local0 notice',
    '  maxconn 4096',
    '',
    'defaults',
    '  mode tcp',
    '  log global',
    '  option dontlognull',
    // A control plane that vanished answers no connection attempt: after 1 s the attempt goes to another.
    '  timeout connect 1s',
    '  retries 2',
    '  option redispatch 1',
    // Watches stay open for minutes with nothing to say.
    '  timeout client 1h',
    '  timeout server 1h',
    '',
    'frontend api',
    `  bind *:${LB_PORT}`,
    '  default_backend control-planes',
    '',
    'backend control-planes',
    '  option httpchk',
    '  http-check send meth GET uri /readyz',
    '  http-check expect status 200',
    '  default-server check check-ssl verify none inter 1s fall 2 rise 2 on-marked-down shutdown-sessions',
    ...servers,
    '',
  ].join('\n');
}

/** The backends a configuration lists (name -> address). */
export function parseLbBackends(config: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of config.matchAll(/^\s*server\s+(\S+)\s+(?:\[([^\]\s]+)\]|([^\s:]+)):\d+/gm)) out[m[1]!] = (m[2] ?? m[3])!;
  return out;
}

/** The load balancer's container name. */
export const lbName = (cluster: string): string => `${cluster}-lb`;
