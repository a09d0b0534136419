// How a command's result is written for machines: one document (status, list, version) as JSON or
// YAML; a stream of events (apply, watch, logs, tunnel) as NDJSON, one object per line, or as a YAML
// stream, one `---` document per event (what `kubectl get -w -o yaml` writes).
import yaml from 'js-yaml';

/** -o: text for people; json and yaml for machines; name: cluster names only (mk list). */
export type OutputFormat = 'text' | 'json' | 'yaml' | 'name';
export type MachineFormat = 'json' | 'yaml';

/** json or yaml when the user asked for a machine format, else undefined. */
export function machineFormat(format: OutputFormat): MachineFormat | undefined {
  return format === 'json' || format === 'yaml' ? format : undefined;
}

/** Plain data: what JSON.stringify keeps (undefined fields dropped), so both formats carry the same fields. */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}

function dumpYaml(value: unknown): string {
  return yaml.dump(plain(value), { noRefs: true, lineWidth: -1 }).trimEnd();
}

/** One result document: indented JSON, or YAML. No trailing newline. */
export function formatDocument(format: MachineFormat, value: unknown): string {
  return format === 'json' ? JSON.stringify(value, null, 2) : dumpYaml(value);
}

/** One event of a stream: a single JSON line, or a YAML document that starts with `---`. No trailing newline. */
export function formatStreamEvent(format: MachineFormat, event: object): string {
  return format === 'json' ? JSON.stringify(event) : `---\n${dumpYaml(event)}`;
}
