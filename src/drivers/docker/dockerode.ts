// dockerode, loaded without the parts mk never uses. Required as it is, dockerode loads BuildKit's
// gRPC session (@grpc/grpc-js, @grpc/proto-loader, protobufjs: dockerode's lib/session.js) and
// docker-modem loads ssh2 (its lib/ssh.js): about 80 ms of the ~100 ms dockerode costs every command
// that talks to Docker. mk builds no image through dockerode, and needs ssh2 only for an ssh:// engine.
// So before dockerode loads, require's cache (which Node documents as writable) gets a stand-in for
// each of those two files: the session one refuses to run, the ssh one loads the real file when an
// ssh:// engine is first dialled. A file that is not where this version of dockerode keeps it is
// loaded as it is (slower, never broken).
import { existsSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type Dockerode from 'dockerode';
import { DriverError } from '../../errors.js';

const require = createRequire(import.meta.url);

/** The two files that are stood in for, as this copy of dockerode lays them out. */
export function deferredFiles(): { session: string; ssh: string } {
  const dockerode = require.resolve('dockerode');
  const modem = createRequire(dockerode).resolve('docker-modem');
  return { session: join(dirname(dockerode), 'session.js'), ssh: join(dirname(modem), 'ssh.js') };
}

function standIn(file: string, exports: unknown): void {
  if (require.cache[file] || !existsSync(file)) return;
  const module = new Module(file);
  module.filename = file;
  module.loaded = true;
  module.exports = exports;
  require.cache[file] = module;
}

/** The Dockerode class, its BuildKit session refused and ssh2 loaded on first use. */
export function loadDockerode(): typeof Dockerode {
  const { session, ssh } = deferredFiles();
  standIn(session, () => {
    throw new DriverError('mk does not build images through dockerode (its BuildKit session is not loaded)');
  });
  let real: ((opt: unknown) => unknown) | undefined;
  standIn(ssh, (opt: unknown) => {
    if (!real) {
      delete require.cache[ssh];
      real = require(ssh) as (opt: unknown) => unknown;
    }
    return real(opt);
  });
  return require('dockerode') as typeof Dockerode;
}
