// Where and how to connect to one host: the spec first, then ~/.ssh/config (Host aliases, HostName,
// User, Port, IdentityFile, ProxyJump), then OpenSSH's defaults. Pure (the caller reads the file),
// but for localUserName().
import { userInfo } from 'node:os';
import { join } from 'node:path';
import SSHConfig from 'ssh-config';
import { DriverError } from '../../errors.js';

export interface Endpoint {
  /** What the spec or config calls the host (alias or address), for messages and host-key lookup. */
  alias: string;
  /** Address actually dialled (HostName from ~/.ssh/config, else the alias). */
  hostname: string;
  port: number;
  user: string;
  /** Identity files named by the spec or ~/.ssh/config, ~ expanded; empty = defaults / agent. */
  identityFiles: string[];
}

export interface ResolvedHost extends Endpoint {
  /** The jump host, when the spec or ~/.ssh/config names one. */
  jump?: Endpoint;
}

export interface ResolveInput {
  address: string;
  port?: number | undefined;
  user?: string | undefined;
  /** Driver-wide settings (spec.driver.ssh). */
  defaults: { user?: string | undefined; port?: number | undefined; identityFile?: string | undefined; bastion?: { host: string; port?: number | undefined; user?: string | undefined } | undefined };
  /** Text of ~/.ssh/config, if any. */
  config?: string | undefined;
  home: string;
  /** The local user name (the last default for User). */
  localUser: string;
}

/** This process's user name (%u, and the last default for User). */
export function localUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'root';
  }
}

/** The identity files OpenSSH tries when none is named, in its order. */
export function defaultIdentityFiles(home: string): string[] {
  return ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((f) => join(home, '.ssh', f));
}

/** ~ and the OpenSSH tokens that make sense here (%d home, %u local user, %h host, %r remote user, %p port, %%). */
export function expandPath(path: string, ctx: { home: string; localUser: string; host?: string; user?: string; port?: number }): string {
  let p = path === '~' ? ctx.home : path.startsWith('~/') ? join(ctx.home, path.slice(2)) : path;
  p = p.replace(/%([%dhurp])/g, (_m, c: string) => {
    switch (c) {
      case 'd':
        return ctx.home;
      case 'u':
        return ctx.localUser;
      case 'h':
        return ctx.host ?? '';
      case 'r':
        return ctx.user ?? '';
      case 'p':
        return String(ctx.port ?? 22);
      default:
        return '%';
    }
  });
  return p;
}

type Computed = Record<string, string | string[]>;

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function all(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

function parsePort(v: string | undefined, where: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new DriverError(`${where}: invalid port ${JSON.stringify(v)}`);
  return n;
}

/** "[user@]host[:port]" (one ProxyJump hop; ssh:// URLs too). */
export function parseJump(spec: string): { host: string; user?: string; port?: number } {
  const hops = spec.split(',');
  if (hops.length > 1) throw new DriverError(`ProxyJump "${spec}": only one jump host is supported`);
  let s = spec.trim().replace(/^ssh:\/\//, '');
  let user: string | undefined;
  const at = s.lastIndexOf('@');
  if (at >= 0) {
    user = s.slice(0, at);
    s = s.slice(at + 1);
  }
  let host = s;
  let port: number | undefined;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracket) {
    host = bracket[1]!;
    port = parsePort(bracket[2], `ProxyJump "${spec}"`);
  } else {
    const m = /^([^:]+):(\d+)$/.exec(s);
    if (m) {
      host = m[1]!;
      port = parsePort(m[2], `ProxyJump "${spec}"`);
    }
  }
  if (host === '') throw new DriverError(`ProxyJump "${spec}": no host`);
  return { host, ...(user ? { user } : {}), ...(port !== undefined ? { port } : {}) };
}

function compute(config: SSHConfig | undefined, alias: string): Computed {
  // Match exec would run commands from the config file: never evaluated.
  return config ? config.compute(alias, { ignoreCase: true, matchExec: false }) : {};
}

function endpoint(
  config: SSHConfig | undefined,
  alias: string,
  explicit: { port?: number | undefined; user?: string | undefined; identityFile?: string | undefined },
  input: ResolveInput,
): { endpoint: Endpoint; computed: Computed } {
  const c = compute(config, alias);
  const hostname = first(c.hostname) ?? alias;
  const port = explicit.port ?? parsePort(first(c.port), `~/.ssh/config Host ${alias}`) ?? 22;
  const user = explicit.user ?? first(c.user) ?? input.localUser;
  const ctx = { home: input.home, localUser: input.localUser, host: hostname, user, port };
  const identityFiles = explicit.identityFile !== undefined ? [explicit.identityFile] : all(c.identityfile).filter((f) => f.toLowerCase() !== 'none');
  return {
    endpoint: { alias, hostname: hostname.replace(/%h/g, alias), port, user, identityFiles: identityFiles.map((f) => expandPath(f, ctx)) },
    computed: c,
  };
}

export function resolveHost(input: ResolveInput): ResolvedHost {
  const config = input.config ? SSHConfig.parse(input.config) : undefined;
  const d = input.defaults;
  const { endpoint: target, computed } = endpoint(config, input.address, { port: input.port ?? d.port, user: input.user ?? d.user, identityFile: d.identityFile }, input);
  let jump: Endpoint | undefined;
  if (d.bastion) {
    jump = endpoint(config, d.bastion.host, { port: d.bastion.port, user: d.bastion.user ?? d.user, identityFile: d.identityFile }, input).endpoint;
  } else {
    const pj = first(computed.proxyjump);
    if (pj !== undefined && pj.toLowerCase() !== 'none') {
      const hop = parseJump(pj);
      jump = endpoint(config, hop.host, { port: hop.port, user: hop.user, identityFile: d.identityFile }, input).endpoint;
    }
  }
  return { ...target, ...(jump ? { jump } : {}) };
}
