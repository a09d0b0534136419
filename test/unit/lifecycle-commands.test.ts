// The pure parts of mk ssh (its operands, the node it picks) and how a stop plan reads.
import { describe, expect, it } from 'vitest';
import { sshOperands } from '../../src/cli.js';
import { pickNode } from '../../src/commands/ssh.js';
import type { ObservedNode } from '../../src/drivers/types.js';
import { MkError } from '../../src/errors.js';

describe('mk ssh operands: the command is what follows --', () => {
  const parse = (argv: string[]) => {
    const i = argv.indexOf('ssh');
    // What commander hands the action: NAME, NODE, the rest, with -- dropped.
    const operands = argv.slice(i + 1).filter((a, j, all) => j !== all.indexOf('--'));
    return sshOperands(argv, operands[1], operands.slice(2));
  };
  it.each([
    [['ssh', 'dev'], {}],
    [['ssh', 'dev', 'w-1'], { node: 'w-1' }],
    [['ssh', 'dev', '--', 'ls', '-l'], { command: ['ls', '-l'] }],
    [['-o', 'json', 'ssh', 'dev', 'dev-cp-1', '--', 'sh', '-c', 'exit 3', '--', 'x'], { node: 'dev-cp-1', command: ['sh', '-c', 'exit 3', '--', 'x'] }],
    [['ssh', 'dev', '--', '-v'], { command: ['-v'] }],
  ])('%j', (argv, want) => expect(parse(argv)).toEqual(want));

  it('a command without --, or -- without a command, is refused with the usage', () => {
    expect(parse(['ssh', 'dev', 'w-1', 'ls'])).toEqual({ error: 'put the command after --: mk ssh NAME [NODE] -- ls' });
    expect(parse(['ssh', 'dev', '--'])).toEqual({ error: 'no command after --: mk ssh NAME [NODE] -- CMD [ARGS...]' });
  });
});

describe('mk ssh picks a node', () => {
  const node = (name: string, role: ObservedNode['role'], state: ObservedNode['state'] = 'running'): ObservedNode => ({ name, role, state, pool: '', ordinal: 1, id: name, image: '', configHash: '' });
  const nodes = [node('dev-w-1', 'worker'), node('dev-cp-10', 'control-plane'), node('dev-cp-2', 'control-plane', 'stopped'), node('dev-cp-3', 'control-plane')];

  it('by default the first control plane that runs (numbers compared as numbers)', () => {
    expect(pickNode('dev', nodes, undefined).name).toBe('dev-cp-3');
  });
  it('NODE by its name or the part after NAME-', () => {
    expect(pickNode('dev', nodes, 'dev-w-1').name).toBe('dev-w-1');
    expect(pickNode('dev', nodes, 'cp-10').name).toBe('dev-cp-10');
  });
  it('a node that does not run, or is not there, is refused naming what is', () => {
    expect(() => pickNode('dev', nodes, 'cp-2')).toThrow(new MkError('node dev-cp-2 is stopped: mk start dev brings it back'));
    expect(() => pickNode('dev', nodes, 'w-9')).toThrow(/has no node "w-9"; its nodes: dev-w-1 \(running\), dev-cp-10 \(running\), dev-cp-2 \(stopped\), dev-cp-3 \(running\)/);
    expect(() => pickNode('dev', [node('dev-cp-1', 'control-plane', 'stopped')], undefined)).toThrow(/no control plane of cluster "dev" runs .*mk start dev/);
  });
});
