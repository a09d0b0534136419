// What every command receives from the CLI layer.
import type { Reporter } from '../log.js';
import type { OutputFormat } from '../output/format.js';
import type { RunLog } from '../output/run-log.js';

export interface CommandContext {
  reporter: Reporter;
  output: OutputFormat;
  verbose: number;
  /** Aborted on Ctrl-C / SIGTERM. */
  signal: AbortSignal;
  /** Reads stdin (for `-f -`), no further than a spec may be long. */
  stdin: () => Promise<string>;
  /** Plain lines for command results that are not events (status tables, kubeconfig). */
  print: (line: string) => void;
  /** Unredacted output the user asked for explicitly (mk kubeconfig). Never for logs or events. */
  printSecret: (text: string) => void;
  /** mk's log of this run for one cluster under $MK_HOME (apply, watch and delete tee their reporter into it; mk logs reads it). */
  runLog: (cluster: string) => RunLog;
  /** A command that waits between runs (mk watch) says when nothing runs: a Ctrl-C then stops it without the "stopping" warning. */
  idleWhen?: (probe: () => boolean) => void;
}
