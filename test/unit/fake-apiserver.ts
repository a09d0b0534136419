// A stand-in API server for unit tests: https on 127.0.0.1 with a throwaway CA (made by openssl,
// once per test file), requiring a client certificate from that CA, answering through a handler.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { Credentials } from '../../src/kube/index.js';
import { issueCert } from '../k8s/pki.js';

export interface Pki {
  ca: string;
  server: { cert: string; key: string };
  client: { cert: string; key: string };
}

let pki: Promise<Pki> | undefined;

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all PEM. Made once per test file. */
export function testPki(): Promise<Pki> {
  return (pki ??= (async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mk-fake-api-'));
    try {
      const ca = await issueCert(dir, { name: 'ca', commonName: 'fake-ca' });
      const server = await issueCert(dir, { name: 'server', commonName: 'fake-apiserver', altNames: ['127.0.0.1', 'localhost'], ca, usage: 'server' });
      const client = await issueCert(dir, { name: 'client', commonName: 'mk-test', organizations: ['system:masters'], ca, usage: 'client' });
      const read = (p: string) => readFile(p, 'utf8');
      return { ca: await read(ca.cert), server: { cert: await read(server.cert), key: await read(server.key) }, client: { cert: await read(client.cert), key: await read(client.key) } };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })());
}

/** An answer: status and JSON body; 'hang' never answers. */
export type Answer = { status: number; body?: unknown } | 'hang';
export type Handler = (req: IncomingMessage, body: string) => Answer;

export interface FakeApi {
  server: Server;
  url: string;
  /** Credentials for it, as a kubeconfig would give them. */
  credentials: Credentials;
  /** "METHOD /path?query" of every request, in order. */
  log: string[];
  /** Common names of the client certificates presented, per request. */
  clients: string[];
  /** TCP connections accepted. */
  connections: number;
  close(): Promise<void>;
}

export async function fakeApi(handler: Handler): Promise<FakeApi> {
  const tls = await testPki();
  const sockets = new Set<Socket>();
  const fake = { log: [] as string[], clients: [] as string[], connections: 0 } as FakeApi;
  const server = createServer({ cert: tls.server.cert, key: tls.server.key, ca: tls.ca, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      fake.log.push(`${req.method} ${req.url}`);
      fake.clients.push(String((req.socket as TLSSocket).getPeerCertificate().subject?.CN));
      const answer = handler(req, body);
      if (answer === 'hang') return;
      res.writeHead(answer.status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(answer.body ?? { kind: 'Status', code: answer.status }));
    });
  });
  server.on('secureConnection', (s) => {
    fake.connections++;
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(fake, {
    server,
    url,
    credentials: { server: url, ca: tls.ca, cert: tls.client.cert, key: tls.client.key },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  });
}

/** A kubeconfig (YAML) with context `name` holding these credentials, as mk writes it. */
export function kubeconfigYaml(name: string, c: Pick<Credentials, 'server' | 'ca' | 'cert' | 'key'>): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${name}\n  cluster: {server: '${c.server}', certificate-authority-data: ${b64(c.ca)}}`,
    'users:',
    `- name: ${name}\n  user: {client-certificate-data: ${b64(c.cert)}, client-key-data: ${b64(c.key)}}`,
    'contexts:',
    `- name: ${name}\n  context: {cluster: ${name}, user: ${name}}`,
    `current-context: ${name}`,
  ].join('\n');
}
