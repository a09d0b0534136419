// dockerode loads without BuildKit's gRPC session and without ssh2 until an ssh:// engine is dialled
// (src/drivers/docker/dockerode.ts). Each test file runs in a process of its own, so the require
// cache seen here is this file's.
import { createRequire } from 'node:module';
import { Agent } from 'node:http';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DriverError } from '../../src/errors.js';
import { deferredFiles, loadDockerode } from '../../src/drivers/docker/dockerode.js';

const require = createRequire(import.meta.url);
const loaded = (pkg: string) => Object.keys(require.cache).some((file) => file.includes(`/node_modules/${pkg}/`));

describe('loadDockerode', () => {
  it('finds the files it stands in for in this version of dockerode', () => {
    const { session, ssh } = deferredFiles();
    expect(existsSync(session)).toBe(true);
    expect(existsSync(ssh)).toBe(true);
  });

  it('gives a working Dockerode class without loading gRPC, protobufjs or ssh2', () => {
    const Dockerode = loadDockerode();
    const docker = new Dockerode({ socketPath: '/nonexistent/docker.sock' });
    expect(typeof docker.listContainers).toBe('function');
    expect(loaded('dockerode')).toBe(true);
    for (const pkg of ['@grpc/grpc-js', '@grpc/proto-loader', 'protobufjs', 'ssh2']) expect(loaded(pkg), pkg).toBe(false);
  });

  it('refuses a BuildKit session', () => {
    loadDockerode();
    const withSession = require(deferredFiles().session) as () => void;
    expect(() => withSession()).toThrow(DriverError);
  });

  it('loads ssh2 when an ssh:// engine is first dialled', () => {
    loadDockerode();
    const sshAgent = require(deferredFiles().ssh) as (opt: object) => unknown;
    expect(loaded('ssh2')).toBe(false);
    expect(sshAgent({ host: 'example.invalid' })).toBeInstanceOf(Agent);
    expect(loaded('ssh2')).toBe(true);
  });
});
