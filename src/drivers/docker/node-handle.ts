// NodeHandle for a Docker node: argv through the exec API, files through putArchive.
import type Dockerode from 'dockerode';
import type { ExecOptions, ExecResult, NodeHandle } from '../types.js';
import { CommandError } from '../../errors.js';
import { singleFileTar } from './archive.js';
import { wrapDockerError } from './docker-errors.js';
import { execInContainer, throwIfAborted } from './exec.js';

export type DockerLog = (msg: string, ctx?: Record<string, unknown>) => void;

export class DockerNodeHandle implements NodeHandle {
  constructor(
    private readonly docker: Dockerode,
    readonly name: string,
    /** Finds the node's container id by label (never by name). */
    private readonly containerId: (signal?: AbortSignal) => Promise<string>,
    private readonly log: DockerLog = () => {},
  ) {}

  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const id = await this.containerId(opts.signal);
    // argv[0] only: arguments may carry tokens; env values and stdin are never logged.
    this.log('docker exec', { container: id, node: this.name, command: argv[0], args: argv.length - 1, stdin: opts.stdin !== undefined, env: Object.keys(opts.env ?? {}) });
    const started = Date.now();
    let result: ExecResult;
    try {
      result = await execInContainer(this.docker, id, argv, opts);
    } catch (err) {
      throw wrapDockerError(`exec ${argv[0] ?? ''} on node ${this.name}`, err);
    }
    this.log('docker exec done', { container: id, node: this.name, command: argv[0], exitCode: result.exitCode, ms: Date.now() - started });
    return result;
  }

  async run(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const result = await this.exec(argv, opts);
    if (result.exitCode !== 0) throw new CommandError(argv, result.exitCode, result.stdout, result.stderr, `node ${this.name}`);
    return result;
  }

  async writeFile(path: string, content: string | Buffer, mode: number, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const id = await this.containerId(opts.signal);
    const archive = await singleFileTar(path, content, mode);
    throwIfAborted(opts.signal, `write ${path}`);
    this.log('docker putArchive', { container: id, node: this.name, path, mode: mode.toString(8), bytes: archive.length });
    try {
      await this.docker.getContainer(id).putArchive(archive, { path: '/', ...(opts.signal ? { abortSignal: opts.signal } : {}) });
    } catch (err) {
      throw wrapDockerError(`write ${path} on node ${this.name}`, err);
    }
  }
}
