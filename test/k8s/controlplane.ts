// A real, throwaway Kubernetes control plane for tests: etcd + kube-apiserver
// (+ kube-controller-manager, + kube-scheduler) as local processes on 127.0.0.1, with fresh
// certificates, free ports and its own temp dir. Binaries come from test/k8s/build.sh.
//
//   const cp = await startControlPlane();
//   const api = KubernetesObjectApi.makeApiClient(cp.kubeConfig);
//   ...
//   await cp.stop();
import { KubeConfig } from '@kubernetes/client-node';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureK8sBinaries, type K8sBinary } from './binaries.js';
import { issueCert, writeServiceAccountKeys, type CertPair } from './pki.js';
import { ManagedProcess, waitFor } from './process.js';

export interface ControlPlaneOptions {
  /** Run kube-controller-manager (namespaces, GC, ServiceAccounts, Deployments -> ReplicaSets -> Pods). Default true. */
  controllerManager?: boolean;
  /** Run kube-scheduler (binds Pods to Nodes). Default false. */
  scheduler?: boolean;
  /** Binary directory; default: the build.sh cache for the pinned version. */
  binDir?: string;
  /** Default 10.96.0.0/16. */
  serviceClusterIpRange?: string;
  extraApiserverArgs?: string[];
  /** Time allowed for every component to become healthy. Default 120 s. */
  readyTimeoutMs?: number;
  /** Keep the temp dir (certs, data, logs) after stop(); also MK_K8S_KEEP=1. */
  keepDir?: boolean;
  /** Progress messages (default: silent). */
  log?: (msg: string) => void;
}

export interface ControlPlane {
  /** Admin (system:masters, client-certificate) kubeconfig on disk. */
  kubeconfigPath: string;
  kubeConfig: KubeConfig;
  /** https://127.0.0.1:<port> */
  server: string;
  /** Temp dir holding pki/, etcd data, kubeconfigs and logs/. */
  dir: string;
  caCertPath: string;
  ports: { etcdClient: number; etcdPeer: number; apiserver: number; controllerManager?: number; scheduler?: number };
  /** Running components by name (etcd, kube-apiserver, ...). */
  processes: Record<string, { pid: number; logPath: string }>;
  /** Milliseconds: certs, etcd, apiserver (start to /readyz 200), controllerManager, scheduler, total. */
  timings: Record<string, number>;
  /** Raw https GET against the apiserver as admin. */
  get(pathname: string): Promise<{ status: number; body: string }>;
  /** Kills every component by PID (SIGTERM, then SIGKILL) and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** Distinct free TCP ports on 127.0.0.1 (all held open together, so no duplicates). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => {
      const srv = createServer();
      return new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => resolve(srv));
      });
    }),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

interface TlsClient {
  ca: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

function httpsGet(url: string, tls: TlsClient, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', ca: tls.ca, cert: tls.cert, key: tls.key, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timeout`)));
    req.on('error', reject);
    req.end();
  });
}

async function httpGet(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

async function writeKubeconfig(file: string, server: string, ca: string, client: CertPair, user: string): Promise<KubeConfig> {
  const kc = new KubeConfig();
  const b64 = async (p: string) => (await readFile(p)).toString('base64');
  kc.loadFromOptions({
    clusters: [{ name: 'mk-test', server, caData: await b64(ca), skipTLSVerify: false }],
    users: [{ name: user, certData: await b64(client.cert), keyData: await b64(client.key) }],
    contexts: [{ name: `${user}@mk-test`, cluster: 'mk-test', user }],
    currentContext: `${user}@mk-test`,
  });
  await writeFile(file, kc.exportConfig(), { mode: 0o600 });
  return kc;
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const t0 = Date.now();
  const withKcm = opts.controllerManager ?? true;
  const withSched = opts.scheduler ?? false;
  const needed: K8sBinary[] = ['etcd', 'kube-apiserver'];
  if (withKcm) needed.push('kube-controller-manager');
  if (withSched) needed.push('kube-scheduler');
  const binDir = opts.binDir ?? ensureK8sBinaries(needed);
  const readyTimeoutMs = opts.readyTimeoutMs ?? 120_000;
  const log = opts.log ?? (() => {});
  const keep = opts.keepDir ?? process.env.MK_K8S_KEEP === '1';
  const serviceRange = opts.serviceClusterIpRange ?? '10.96.0.0/16';
  const firstServiceIp = serviceRange.replace(/\.0\/\d+$/, '.1');

  const dir = await mkdtemp(path.join(tmpdir(), 'mk-cp-'));
  const pkiDir = path.join(dir, 'pki');
  const logDir = path.join(dir, 'logs');
  await mkdir(pkiDir, { recursive: true, mode: 0o700 });
  await mkdir(logDir, { recursive: true });
  const procs: ManagedProcess[] = [];
  const timings: Record<string, number> = {};
  let stopped = false;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // Reverse start order: clients of the apiserver first, etcd last.
    for (const p of [...procs].reverse()) await p.stop();
    if (!keep) await rm(dir, { recursive: true, force: true });
    else log(`control plane dir kept: ${dir}`);
  };

  try {
    const [etcdClient, etcdPeer, apiserverPort, kcmPort, schedPort] = (await freePorts(5)) as [number, number, number, number, number];
    const server = `https://127.0.0.1:${apiserverPort}`;

    // --- PKI ---
    const t = Date.now();
    const ca = await issueCert(pkiDir, { name: 'ca', commonName: 'mk-test-ca' });
    const serving = ['localhost', '127.0.0.1'];
    const [apiserverCert, admin, kcmClient, kcmServing, schedClient, schedServing, sa] = await Promise.all([
      issueCert(pkiDir, {
        name: 'apiserver',
        commonName: 'kube-apiserver',
        usage: 'server',
        ca,
        altNames: [...serving, firstServiceIp, 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
      }),
      issueCert(pkiDir, { name: 'admin', commonName: 'mk-admin', organizations: ['system:masters'], usage: 'client', ca }),
      issueCert(pkiDir, { name: 'kcm-client', commonName: 'system:kube-controller-manager', usage: 'client', ca }),
      issueCert(pkiDir, { name: 'kcm-serving', commonName: 'kube-controller-manager', usage: 'server', altNames: serving, ca }),
      issueCert(pkiDir, { name: 'scheduler-client', commonName: 'system:kube-scheduler', usage: 'client', ca }),
      issueCert(pkiDir, { name: 'scheduler-serving', commonName: 'kube-scheduler', usage: 'server', altNames: serving, ca }),
      writeServiceAccountKeys(pkiDir),
    ]);
    timings.certs = Date.now() - t;
    const adminTls: TlsClient = { ca: await readFile(ca.cert), cert: await readFile(admin.cert), key: await readFile(admin.key) };
    const kubeconfigPath = path.join(dir, 'admin.kubeconfig');
    const kubeConfig = await writeKubeconfig(kubeconfigPath, server, ca.cert, admin, 'mk-admin');

    // --- etcd ---
    const etcd = await ManagedProcess.start(
      'etcd',
      path.join(binDir, 'etcd'),
      [
        '--name=mk-test',
        `--data-dir=${path.join(dir, 'etcd')}`,
        `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=mk-test=http://127.0.0.1:${etcdPeer}`,
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ],
      path.join(logDir, 'etcd.log'),
    );
    procs.push(etcd);
    timings.etcd = await waitFor(
      'etcd /health',
      async () => {
        const r = await httpGet(`http://127.0.0.1:${etcdClient}/health`);
        return r.status === 200 && (JSON.parse(r.body) as { health?: string }).health === 'true';
      },
      { timeoutMs: readyTimeoutMs, procs },
    );
    log(`etcd ready in ${timings.etcd} ms (pid ${etcd.pid})`);

    // --- kube-apiserver ---
    const apiserverArgs = [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiserverPort}`,
      `--cert-dir=${path.join(dir, 'apiserver-certs')}`,
      `--tls-cert-file=${apiserverCert.cert}`,
      `--tls-private-key-file=${apiserverCert.key}`,
      `--client-ca-file=${ca.cert}`,
      '--authorization-mode=Node,RBAC',
      `--service-cluster-ip-range=${serviceRange}`,
      '--allow-privileged=true',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${sa.pub}`,
      `--service-account-signing-key-file=${sa.key}`,
      '--profiling=false',
      // A loopback advertise address cannot go into the kubernetes Service's endpoints.
      '--endpoint-reconciler-type=none',
    ];
    // Without the controller-manager nobody creates the "default" ServiceAccount (envtest does the same).
    if (!withKcm) apiserverArgs.push('--disable-admission-plugins=ServiceAccount');
    apiserverArgs.push(...(opts.extraApiserverArgs ?? []));
    const apiserver = await ManagedProcess.start('kube-apiserver', path.join(binDir, 'kube-apiserver'), apiserverArgs, path.join(logDir, 'kube-apiserver.log'));
    procs.push(apiserver);
    timings.apiserver = await waitFor(
      'kube-apiserver /readyz',
      async () => (await httpsGet(`${server}/readyz`, adminTls)).status === 200,
      { timeoutMs: readyTimeoutMs, procs, intervalMs: 250 },
    );
    log(`kube-apiserver ready in ${timings.apiserver} ms (pid ${apiserver.pid}) at ${server}`);

    const ports: ControlPlane['ports'] = { etcdClient, etcdPeer, apiserver: apiserverPort };

    // --- kube-controller-manager / kube-scheduler ---
    const components: { name: string; bin: K8sBinary; port: number; client: CertPair; servingCert: CertPair; extra: string[] }[] = [];
    if (withKcm) {
      components.push({
        name: 'kube-controller-manager',
        bin: 'kube-controller-manager',
        port: kcmPort,
        client: kcmClient,
        servingCert: kcmServing,
        extra: [
          `--service-account-private-key-file=${sa.key}`,
          `--root-ca-file=${ca.cert}`,
          '--use-service-account-credentials=true',
          `--cluster-signing-cert-file=${ca.cert}`,
          `--cluster-signing-key-file=${ca.key}`,
          `--service-cluster-ip-range=${serviceRange}`,
          '--controllers=*,bootstrapsigner,tokencleaner',
        ],
      });
      ports.controllerManager = kcmPort;
    }
    if (withSched) {
      components.push({ name: 'kube-scheduler', bin: 'kube-scheduler', port: schedPort, client: schedClient, servingCert: schedServing, extra: [] });
      ports.scheduler = schedPort;
    }
    const started = await Promise.all(
      components.map(async (c) => {
        const startedAt = Date.now();
        const kc = path.join(dir, `${c.name}.kubeconfig`);
        await writeKubeconfig(kc, server, ca.cert, c.client, c.name);
        const p = await ManagedProcess.start(
          c.name,
          path.join(binDir, c.bin),
          [
            `--kubeconfig=${kc}`,
            `--authentication-kubeconfig=${kc}`,
            `--authorization-kubeconfig=${kc}`,
            '--bind-address=127.0.0.1',
            `--secure-port=${c.port}`,
            `--tls-cert-file=${c.servingCert.cert}`,
            `--tls-private-key-file=${c.servingCert.key}`,
            '--leader-elect=false',
            ...c.extra,
          ],
          path.join(logDir, `${c.name}.log`),
        );
        procs.push(p);
        return { c, p, startedAt };
      }),
    );
    await Promise.all(
      started.map(async ({ c, p, startedAt }) => {
        await waitFor(`${c.name} /healthz`, async () => (await httpsGet(`https://127.0.0.1:${c.port}/healthz`, { ca: adminTls.ca })).status === 200, {
          timeoutMs: readyTimeoutMs,
          procs: [p, apiserver],
        });
        timings[c.name === 'kube-scheduler' ? 'scheduler' : 'controllerManager'] = Date.now() - startedAt;
        log(`${c.name} healthy in ${Date.now() - startedAt} ms (pid ${p.pid})`);
      }),
    );
    timings.total = Date.now() - t0;

    const processes: ControlPlane['processes'] = {};
    for (const p of procs) processes[p.name] = { pid: p.pid, logPath: p.logPath };
    return {
      kubeconfigPath,
      kubeConfig,
      server,
      dir,
      caCertPath: ca.cert,
      ports,
      processes,
      timings,
      get: (pathname) => httpsGet(`${server}${pathname}`, adminTls),
      stop,
    };
  } catch (err) {
    // Keep the logs of a failed start for inspection; the error already carries their tails.
    await stop().catch(() => {});
    throw err;
  }
}
