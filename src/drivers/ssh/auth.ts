// How mk authenticates: the ssh-agent and private keys, read once per run. Keys named by the spec
// or ~/.ssh/config must be readable; without any, OpenSSH's default key files that exist are used.
// Key contents never reach a message or a log line, only file names.
import { readFile } from 'node:fs/promises';
import ssh2 from 'ssh2';
import { DriverError } from '../../errors.js';
import { defaultIdentityFiles, expandPath, localUserName } from './ssh-config.js';

export interface Auth {
  /** Parsed-ok private keys, in the order to try (file name for messages). */
  keys: { file: string; key: Buffer }[];
  /** ssh-agent socket. */
  agent?: string;
}

export interface AuthInput {
  /** Identity files named by the spec or ~/.ssh/config (~ expanded); empty = OpenSSH's defaults. */
  identityFiles: string[];
  /** The spec names an identity file (then a missing one is an error even when the list is empty). */
  named: boolean;
  /** ssh-agent socket, when the agent is to be used. */
  agent: string | undefined;
  /** Local home directory (default key files). */
  home: string;
}

export async function loadAuth(input: AuthInput): Promise<Auth> {
  const { agent, home } = input;
  const named = input.named || input.identityFiles.length > 0;
  const files = named ? input.identityFiles : defaultIdentityFiles(home);
  const keys: Auth['keys'] = [];
  for (const file of files) {
    let data: Buffer;
    try {
      data = await readFile(expandPath(file, { home, localUser: localUserName() }));
    } catch (err) {
      if (named) throw new DriverError(`identity file ${file}: ${(err as Error).message}`);
      continue;
    }
    const parsed = ssh2.utils.parseKey(data);
    if (parsed instanceof Error) {
      if (/encrypted|passphrase/i.test(parsed.message)) {
        if (named && !agent) throw new DriverError(`identity file ${file} is encrypted; load it into ssh-agent (ssh-add ${file})`);
        continue;
      }
      throw new DriverError(`identity file ${file}: ${parsed.message}`);
    }
    keys.push({ file, key: data });
  }
  if (keys.length === 0 && !agent) {
    throw new DriverError('no way to authenticate: set spec.driver.ssh.identityFile, or run an ssh-agent (SSH_AUTH_SOCK), or create ~/.ssh/id_ed25519');
  }
  return { keys, ...(agent ? { agent } : {}) };
}
