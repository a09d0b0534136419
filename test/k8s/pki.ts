// Throwaway PKI for test control planes: openssl (argv only, never a shell) for X.509,
// node:crypto for the service-account key pair. ECDSA P-256 keys: fast to generate.
import { execFile } from 'node:child_process';
import { generateKeyPair } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface CertPair {
  cert: string; // path to PEM certificate
  key: string; // path to PEM private key
}

export interface CertRequest {
  /** File base name: <name>.crt / <name>.key / <name>.cnf in dir. */
  name: string;
  commonName: string;
  organizations?: string[];
  /** DNS names and IP addresses; IPs are recognised by their syntax. */
  altNames?: string[];
  /** Signing CA; omitted = self-signed CA certificate. */
  ca?: CertPair;
  usage?: 'server' | 'client' | 'both';
  days?: number;
}

function isIp(s: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(s) || s.includes(':');
}

/** An openssl config file (data, not a command line) describing one certificate. */
function opensslConfig(req: CertRequest): string {
  const isCA = !req.ca;
  const dn = [`CN = ${req.commonName}`, ...(req.organizations ?? []).map((o, i) => `${i}.O = ${o}`)];
  const ext: string[] = [];
  if (isCA) {
    ext.push('basicConstraints = critical, CA:TRUE', 'keyUsage = critical, digitalSignature, keyEncipherment, keyCertSign');
  } else {
    const eku = { server: 'serverAuth', client: 'clientAuth', both: 'serverAuth, clientAuth' }[req.usage ?? 'both'];
    ext.push(
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature, keyEncipherment',
      `extendedKeyUsage = ${eku}`,
      'authorityKeyIdentifier = keyid',
    );
  }
  ext.push('subjectKeyIdentifier = hash');
  if (req.altNames?.length) {
    ext.push(`subjectAltName = ${req.altNames.map((n) => (isIp(n) ? `IP:${n}` : `DNS:${n}`)).join(', ')}`);
  }
  return ['[req]', 'distinguished_name = dn', 'prompt = no', '[dn]', ...dn, '[ext]', ...ext, ''].join('\n');
}

/** Issues one certificate with a fresh P-256 key. */
export async function issueCert(dir: string, req: CertRequest): Promise<CertPair> {
  const cnf = path.join(dir, `${req.name}.cnf`);
  const pair = { cert: path.join(dir, `${req.name}.crt`), key: path.join(dir, `${req.name}.key`) };
  await writeFile(cnf, opensslConfig(req), { mode: 0o600 });
  const argv = [
    'req', '-x509', '-new', '-config', cnf, '-extensions', 'ext',
    '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', pair.key, '-out', pair.cert, '-days', String(req.days ?? 7),
  ];
  if (req.ca) argv.push('-CA', req.ca.cert, '-CAkey', req.ca.key);
  try {
    await execFileP('openssl', argv);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${argv.join(' ')} failed: ${e.stderr ?? e.message}`);
  }
  return pair;
}

export interface ServiceAccountKeys {
  key: string; // private key (PKCS#1 PEM)
  pub: string; // public key (SPKI PEM)
}

export async function writeServiceAccountKeys(dir: string): Promise<ServiceAccountKeys> {
  const { publicKey, privateKey } = await new Promise<{ publicKey: string; privateKey: string }>((resolve, reject) =>
    generateKeyPair(
      'rsa',
      {
        modulusLength: 2048,
        publicKeyEncoding: { type: 'spki', format: 'pem' },
        privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
      },
      (err, pub, priv) => (err ? reject(err) : resolve({ publicKey: pub, privateKey: priv })),
    ),
  );
  const out = { key: path.join(dir, 'sa.key'), pub: path.join(dir, 'sa.pub') };
  await writeFile(out.key, privateKey, { mode: 0o600 });
  await writeFile(out.pub, publicKey);
  return out;
}
