// mk's node networking renders (pure), and the boot script run by a real sh on temp copies of its files.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CNI_CONFLIST,
  HOSTS_FILE,
  NETWORK_SCRIPT,
  NETWORK_UNIT,
  networkScript,
  networkUnit,
  renderConflist,
  renderHosts,
  renderRoutes,
  ROUTE_PROTO,
  ROUTES_FILE,
  SERVICES_FILE,
} from '../../src/kubeadm/network.js';

const run = promisify(execFile);

describe('renderRoutes', () => {
  const peers = [
    { podCidr: '10.244.3.0/24', via: '172.18.0.5' },
    { podCidr: '10.244.1.0/24', via: '172.18.0.3' },
    { podCidr: '10.244.2.0/24', via: '172.18.0.4' },
  ];

  it('flushes mk\'s routes first, then one route per peer sorted by podCIDR, all tagged with mk\'s protocol', () => {
    expect(renderRoutes(peers)).toBe(
      [
        `route flush proto ${ROUTE_PROTO}`,
        `route replace 10.244.1.0/24 via 172.18.0.3 proto ${ROUTE_PROTO}`,
        `route replace 10.244.2.0/24 via 172.18.0.4 proto ${ROUTE_PROTO}`,
        `route replace 10.244.3.0/24 via 172.18.0.5 proto ${ROUTE_PROTO}`,
        '',
      ].join('\n'),
    );
  });

  it('is the same text whatever order the peers come in, and does not reorder its input', () => {
    const input = [...peers];
    const a = renderRoutes(input);
    expect(renderRoutes([...peers].reverse())).toBe(a);
    expect(renderRoutes([peers[1]!, peers[2]!, peers[0]!])).toBe(a);
    expect(input).toEqual(peers);
  });

  it('with no peers left it still flushes, so routes to removed nodes go', () => {
    expect(renderRoutes([])).toBe(`route flush proto ${ROUTE_PROTO}\n`);
  });
});

describe('renderHosts', () => {
  it('maps the stable API endpoint name to the address, marked as mk\'s line', () => {
    expect(renderHosts('dev', '172.18.0.2')).toBe('172.18.0.2 dev-api.mk.internal # mk\n');
    expect(renderHosts('prod', 'fd00::2')).toBe('fd00::2 prod-api.mk.internal # mk\n');
  });
});

describe('renderConflist', () => {
  it('is valid JSON: ptp with host-local addresses from the node\'s podCIDR, then portmap', () => {
    const text = renderConflist('10.244.7.0/24');
    expect(text.endsWith('\n')).toBe(true);
    const conf = JSON.parse(text) as {
      cniVersion: string;
      name: string;
      plugins: Array<{ type: string; ipam?: { type: string; ranges: Array<Array<{ subnet: string }>> }; capabilities?: Record<string, boolean> }>;
    };
    expect(conf.name).toBe('mk');
    expect(conf.cniVersion).toMatch(/^\d+\.\d+\.\d+$/);
    expect(conf.plugins.map((p) => p.type)).toEqual(['ptp', 'portmap']);
    expect(conf.plugins[0]!.ipam?.type).toBe('host-local');
    expect(conf.plugins[0]!.ipam?.ranges).toEqual([[{ subnet: '10.244.7.0/24' }]]);
    expect(conf.plugins[1]!.capabilities).toEqual({ portMappings: true });
  });

  it('differs only in the subnet between nodes', () => {
    expect(renderConflist('10.244.1.0/24').replace('10.244.1.0/24', 'X')).toBe(renderConflist('10.244.2.0/24').replace('10.244.2.0/24', 'X'));
  });

  it('is written where the kubelet looks for CNI configs', () => {
    expect(CNI_CONFLIST).toMatch(/^\/etc\/cni\/net\.d\/[^/]+\.conflist$/);
  });
});

describe('network script and unit', () => {
  it('the unit runs the script before the kubelet, and is installed under the name applyNodeNetwork enables', () => {
    expect(networkUnit).toContain(`ExecStart=${NETWORK_SCRIPT}\n`);
    expect(networkUnit).toMatch(/^Before=kubelet\.service$/m);
    expect(networkUnit).toMatch(/^Type=oneshot$/m);
    expect(networkUnit).toMatch(/^WantedBy=multi-user\.target$/m);
    expect(basename(NETWORK_UNIT)).toBe('mk-node-network.service');
  });

  it('the script reads the very files mk writes: the routes through ip -batch, the hosts line into /etc/hosts', () => {
    expect(networkScript.startsWith('#!/bin/sh\n')).toBe(true);
    expect(networkScript).toContain(`ip -force -batch ${ROUTES_FILE}`);
    expect(networkScript).toContain(`[ -f ${ROUTES_FILE} ]`);
    expect(networkScript).toContain(`[ -f ${HOSTS_FILE} ]`);
    expect(networkScript).toContain(` ${HOSTS_FILE} >/etc/hosts`);
  });

  describe('run by a real sh on temp copies of /etc/hosts and mk\'s files', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'mk-netscript-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    /** The script with its absolute paths moved into the temp dir; the text is otherwise the real one. */
    const localScript = (): string =>
      networkScript
        .replaceAll(ROUTES_FILE, join(dir, 'routes'))
        .replaceAll(HOSTS_FILE, join(dir, 'mk-hosts-line'))
        .replaceAll(SERVICES_FILE, join(dir, 'service-cidr'))
        .replaceAll('/etc/hosts', join(dir, 'hosts'))
        .replaceAll('/run/mk-hosts', join(dir, 'tmp-hosts'));

    it('replaces mk\'s old endpoint line, keeps every other line (one mentioning # mk too), and is idempotent (routes file absent: no ip call)', async () => {
      await writeFile(join(dir, 'hosts'), '127.0.0.1 localhost\n10.9.9.9 dev-api.mk.internal # mk\n::1 ip6-localhost\n10.0.0.7 mkbox # mk lab\n');
      await writeFile(join(dir, 'mk-hosts-line'), renderHosts('dev', '172.18.0.2'));
      const script = localScript();
      expect(script).not.toContain('/etc/');
      await run('sh', ['-c', script]);
      await run('sh', ['-c', script]);
      expect(await readFile(join(dir, 'hosts'), 'utf8')).toBe('127.0.0.1 localhost\n::1 ip6-localhost\n10.0.0.7 mkbox # mk lab\n172.18.0.2 dev-api.mk.internal # mk\n');
    });

    it('rejects what kube-proxy did not translate to the service CIDR, in FORWARD and OUTPUT, once (an iptables that records its calls)', async () => {
      // A stand-in iptables on PATH: -C holds once -I added the rule for that chain.
      const bin = join(dir, 'bin');
      await mkdir(bin);
      await writeFile(
        join(bin, 'iptables'),
        `#!/bin/sh\necho "$*" >>${join(dir, 'calls')}\ncase "$1" in -C) [ -f ${join(dir, 'rule-')}"$2" ];; -I) touch ${join(dir, 'rule-')}"$2";; esac\n`,
        { mode: 0o755 },
      );
      await writeFile(join(dir, 'service-cidr'), '10.96.0.0/12\n');
      await writeFile(join(dir, 'hosts'), '127.0.0.1 localhost\n');
      const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
      await run('sh', ['-c', localScript()], { env });
      await run('sh', ['-c', localScript()], { env });
      const calls = (await readFile(join(dir, 'calls'), 'utf8')).trim().split('\n').map((l) => l.split(' ').slice(0, 4).join(' '));
      expect(calls).toEqual(['-C FORWARD -d 10.96.0.0/12', '-I FORWARD -d 10.96.0.0/12', '-C OUTPUT -d 10.96.0.0/12', '-I OUTPUT -d 10.96.0.0/12', '-C FORWARD -d 10.96.0.0/12', '-C OUTPUT -d 10.96.0.0/12']);
      expect(await readFile(join(dir, 'calls'), 'utf8')).toContain('-j REJECT');
    });
  });
});
