// A CommandContext for running a command in-process: records events, debug lines and printed lines;
// run logs go under $MK_HOME as mk's own do.
import type { CommandContext } from '../../src/commands/context.js';
import { RecordingReporter } from '../../src/log.js';
import { RunLogs } from '../../src/output/run-log.js';

export type TestContext = CommandContext & { reporter: RecordingReporter; lines: string[] };

export function testContext(opts: { output?: 'text' | 'json'; signal?: AbortSignal; verbose?: number; command?: string } = {}): TestContext {
  const lines: string[] = [];
  const runLogs = new RunLogs({ command: opts.command ?? 'test' });
  return {
    reporter: new RecordingReporter(),
    lines,
    output: opts.output ?? 'text',
    verbose: opts.verbose ?? 0,
    signal: opts.signal ?? new AbortController().signal,
    stdin: async () => '',
    print: (line) => lines.push(line),
    printSecret: (text) => lines.push(text),
    runLog: (cluster) => runLogs.get(cluster),
  };
}
