import { describe, expect, it } from 'vitest';
import type { ServiceJson } from '../../src/tunnel/loadbalancers.js';
import {
  bindNote,
  chooseLocalPort,
  diffForwards,
  forwardTargets,
  pickEndpoint,
  readyEndpoints,
  type EndpointSliceJson,
  type ForwardSpec,
} from '../../src/tunnel/plan.js';

const svc = (namespace: string, name: string, type: string, ports: NonNullable<ServiceJson['spec']>['ports']): ServiceJson => ({
  metadata: { namespace, name },
  spec: { type, ports },
});

const spec = (namespace: string, name: string, port: number, portName = ''): ForwardSpec => ({
  key: `${namespace}/${name}:${port}/TCP`,
  namespace,
  name,
  portName,
  port,
  protocol: 'TCP',
});

describe('forwardTargets', () => {
  it('forwards every TCP port of LoadBalancer Services only, sorted, and lists the other protocols as skipped', () => {
    const { forwards, skipped } = forwardTargets([
      svc('web', 'shop', 'LoadBalancer', [
        { name: 'https', port: 443, protocol: 'TCP' },
        { name: 'http', port: 80 },
      ]),
      svc('default', 'dns', 'LoadBalancer', [
        { name: 'dns', port: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, protocol: 'TCP' },
      ]),
      svc('default', 'internal', 'ClusterIP', [{ port: 8080 }]),
      svc('default', 'np', 'NodePort', [{ port: 8081, nodePort: 30081 }]),
      { metadata: { name: 'bare' }, spec: { type: 'LoadBalancer' } },
    ]);
    expect(forwards.map((f) => f.key)).toEqual(['default/dns:53/TCP', 'web/shop:80/TCP', 'web/shop:443/TCP']);
    expect(forwards[1]).toEqual({ key: 'web/shop:80/TCP', namespace: 'web', name: 'shop', portName: 'http', port: 80, protocol: 'TCP' });
    expect(skipped).toEqual([
      { key: 'default/dns:53/UDP', namespace: 'default', name: 'dns', port: 53, protocol: 'UDP', reason: 'the Kubernetes port-forward carries TCP only' },
    ]);
  });

  it('treats an unnamed port as name "" and a missing namespace as default', () => {
    const { forwards } = forwardTargets([{ metadata: { name: 'x' }, spec: { type: 'LoadBalancer', ports: [{ port: 9000 }] } }]);
    expect(forwards).toEqual([spec('default', 'x', 9000)]);
  });
});

describe('diffForwards', () => {
  const a = spec('default', 'a', 80);
  const b = spec('default', 'b', 80);
  const c = spec('default', 'c', 8080);

  it('opens new, closes gone and keeps unchanged forwards', () => {
    const d = diffForwards(['default/a:80/TCP', 'default/z:1/TCP', 'default/b:80/TCP'], [a, b, c]);
    expect(d.add).toEqual([c]);
    expect(d.remove).toEqual(['default/z:1/TCP']);
    expect(d.keep).toEqual([a, b]);
  });

  it('is empty when nothing changed, and closes everything when no Service is left', () => {
    expect(diffForwards([a.key, b.key], [a, b])).toEqual({ add: [], remove: [], keep: [a, b] });
    expect(diffForwards([b.key, a.key], [])).toEqual({ add: [], remove: [a.key, b.key], keep: [] });
  });

  it('replaces a forward whose Service port number changed, and keeps one whose port was only renamed', () => {
    const renamed = spec('default', 'a', 80, 'web');
    const moved = spec('default', 'b', 81);
    const d = diffForwards([a.key, b.key], [renamed, moved]);
    expect(d.keep).toEqual([renamed]);
    expect(d.add).toEqual([moved]);
    expect(d.remove).toEqual([b.key]);
  });
});

describe('local port choice', () => {
  it('asks for the Service port when this tunnel does not hold it, else any free port and says who holds it', () => {
    expect(chooseLocalPort(80, new Map())).toEqual({ port: 80 });
    expect(chooseLocalPort(80, new Map([[8080, 'default/b 8080/TCP']]))).toEqual({ port: 80 });
    expect(chooseLocalPort(80, new Map([[80, 'default/a 80/TCP']]))).toEqual({ port: 0, heldBy: 'default/a 80/TCP' });
  });

  it('explains why the Service port was not used', () => {
    expect(bindNote(80, '127.0.0.1', { heldBy: 'default/a 80/TCP' })).toBe('127.0.0.1:80 is already forwarded for default/a 80/TCP');
    expect(bindNote(80, '127.0.0.1', { errno: 'EADDRINUSE' })).toBe('127.0.0.1:80 is in use');
    expect(bindNote(80, '127.0.0.1', { errno: 'EACCES' })).toBe('127.0.0.1:80 needs privileges');
    expect(bindNote(80, '127.0.0.1', { errno: 'EADDRNOTAVAIL' })).toBe('127.0.0.1:80 is unavailable (EADDRNOTAVAIL)');
  });
});

describe('readyEndpoints', () => {
  const pod = (name: string, conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null }) => ({
    addresses: ['10.244.0.5'],
    ...(conditions ? { conditions } : {}),
    targetRef: { kind: 'Pod', name, namespace: 'default' },
  });

  it('maps the Service port to the container port by port name, and keeps ready pods only', () => {
    const slices: EndpointSliceJson[] = [
      {
        ports: [
          { name: 'http', port: 8080, protocol: 'TCP' },
          { name: 'metrics', port: 9090, protocol: 'TCP' },
        ],
        endpoints: [pod('web-b', { ready: true }), pod('web-a', {}), pod('web-c', { ready: false, serving: false })],
      },
    ];
    expect(readyEndpoints(slices, { portName: 'http', protocol: 'TCP' })).toEqual([
      { pod: 'web-a', port: 8080 },
      { pod: 'web-b', port: 8080 },
    ]);
    expect(readyEndpoints(slices, { portName: 'metrics', protocol: 'TCP' }).map((e) => e.port)).toEqual([9090, 9090]);
    expect(readyEndpoints(slices, { portName: 'nope', protocol: 'TCP' })).toEqual([]);
  });

  it('matches an unnamed port, whose name may be absent, null or ""', () => {
    for (const name of [undefined, null, '']) {
      expect(readyEndpoints([{ ports: [{ name, port: 8080 }], endpoints: [pod('p')] }], { portName: '', protocol: 'TCP' })).toEqual([{ pod: 'p', port: 8080 }]);
    }
  });

  it('falls back to serving terminating pods when none is ready, as kube-proxy does', () => {
    const slices: EndpointSliceJson[] = [{ ports: [{ name: '', port: 80 }], endpoints: [pod('old', { ready: false, serving: true, terminating: true }), pod('crashed', { ready: false })] }];
    expect(readyEndpoints(slices, { portName: '', protocol: 'TCP' })).toEqual([{ pod: 'old', port: 80 }]);
    const withReady = [{ ...slices[0]!, endpoints: [...slices[0]!.endpoints!, pod('new', { ready: true })] }];
    expect(readyEndpoints(withReady, { portName: '', protocol: 'TCP' })).toEqual([{ pod: 'new', port: 80 }]);
  });

  it('ignores endpoints that are not pods, and counts a dual-stack pod once', () => {
    const slices: EndpointSliceJson[] = [
      { ports: [{ port: 80 }], endpoints: [pod('p'), { addresses: ['192.0.2.1'] }, { addresses: ['192.0.2.2'], targetRef: { kind: 'Node', name: 'n1' } }] },
      { ports: [{ port: 80 }], endpoints: [{ ...pod('p'), addresses: ['fd00::5'] }] },
      { ports: null, endpoints: null },
    ];
    expect(readyEndpoints(slices, { portName: '', protocol: 'TCP' })).toEqual([{ pod: 'p', port: 80 }]);
  });
});

describe('pickEndpoint', () => {
  const eps = [
    { pod: 'a', port: 80 },
    { pod: 'b', port: 80 },
    { pod: 'c', port: 80 },
  ];
  it('goes round robin and skips pods that just failed', () => {
    expect([0, 1, 2, 3].map((n) => pickEndpoint(eps, n)?.pod)).toEqual(['a', 'b', 'c', 'a']);
    expect([0, 1, 2].map((n) => pickEndpoint(eps, n, new Set(['b']))?.pod)).toEqual(['a', 'c', 'a']);
    expect(pickEndpoint(eps, 0, new Set(['a', 'b', 'c']))).toBeUndefined();
    expect(pickEndpoint([], 5)).toBeUndefined();
  });
});
