import { describe, expect, it } from 'vitest';
import { expandPath, parseJump, resolveHost } from '../../src/drivers/ssh/ssh-config.js';
import type { ResolveInput } from '../../src/drivers/ssh/ssh-config.js';

const CONFIG = `
Host web*
  HostName 10.0.0.5
  User alice
  Port 2200
  IdentityFile ~/.ssh/web_key
  ProxyJump bob@jump.example:2022

Host jump.example
  HostName 192.0.2.1
  IdentityFile %d/.ssh/jump_key

Host direct
  HostName 10.0.0.6
  ProxyJump none

Host *
  User fallback
  Match exec "touch /tmp/mk-must-not-run"
`;

function input(over: Partial<ResolveInput>): ResolveInput {
  return { address: 'web1', defaults: {}, config: CONFIG, home: '/home/me', localUser: 'me', ...over };
}

describe('resolveHost', () => {
  it('follows ~/.ssh/config for aliases, user, port, identity file and ProxyJump', () => {
    const r = resolveHost(input({}));
    expect(r).toMatchObject({ alias: 'web1', hostname: '10.0.0.5', port: 2200, user: 'alice', identityFiles: ['/home/me/.ssh/web_key'] });
    expect(r.jump).toMatchObject({ alias: 'jump.example', hostname: '192.0.2.1', port: 2022, user: 'bob', identityFiles: ['/home/me/.ssh/jump_key'] });
  });

  it('the spec wins over the config file', () => {
    const r = resolveHost(
      input({ port: 22, user: 'root', defaults: { identityFile: '~/.ssh/mk', bastion: { host: 'bastion.lab', user: 'ops' } } }),
    );
    expect(r).toMatchObject({ hostname: '10.0.0.5', port: 22, user: 'root', identityFiles: ['/home/me/.ssh/mk'] });
    expect(r.jump).toMatchObject({ alias: 'bastion.lab', hostname: 'bastion.lab', port: 22, user: 'ops' });
  });

  it('driver defaults apply to hosts without their own values', () => {
    const r = resolveHost(input({ address: '10.1.1.1', config: undefined, defaults: { user: 'deploy', port: 2222 } }));
    expect(r).toEqual({ alias: '10.1.1.1', hostname: '10.1.1.1', port: 2222, user: 'deploy', identityFiles: [] });
  });

  it('ProxyJump none and OpenSSH defaults', () => {
    const r = resolveHost(input({ address: 'direct' }));
    expect(r.jump).toBeUndefined();
    expect(r).toMatchObject({ hostname: '10.0.0.6', port: 22, user: 'fallback' });
    expect(resolveHost(input({ address: 'x', config: undefined })).user).toBe('me');
  });
});

describe('parseJump and expandPath', () => {
  it('parses one hop, refuses chains', () => {
    expect(parseJump('jump')).toEqual({ host: 'jump' });
    expect(parseJump('u@h:2')).toEqual({ host: 'h', user: 'u', port: 2 });
    expect(parseJump('ssh://u@[::1]:2200')).toEqual({ host: '::1', user: 'u', port: 2200 });
    expect(() => parseJump('a,b')).toThrow(/only one jump host/);
    expect(() => parseJump('h:0')).toThrow(/invalid port/);
  });

  it('expands ~ and tokens', () => {
    expect(expandPath('~/.ssh/id_%r@%h:%p%%', { home: '/h', localUser: 'me', host: 'x', user: 'root', port: 22 })).toBe('/h/.ssh/id_root@x:22%');
    expect(expandPath('%d/k-%u', { home: '/h', localUser: 'me' })).toBe('/h/k-me');
  });
});
