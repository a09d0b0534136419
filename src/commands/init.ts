// mk init [NAME] writes a starter cluster.yaml, never over an existing file; mk schema prints the
// JSON Schema of the spec. The schema ships with mk, and mk init writes it next to the spec
// (cluster.v1alpha1.json) with a relative modeline, so editors find it wherever mk is installed, in a
// repository of specs cloned on another machine, and offline; `mk schema > cluster.v1alpha1.json`
// refreshes it after an upgrade.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import schemaDocument from '../../schema/cluster.v1alpha1.json' with { type: 'json' };
import { EXIT, MkError, SpecError } from '../errors.js';
import { formatDocument, machineFormat } from '../output/format.js';
import { DEFAULT_KUBERNETES_VERSION } from '../spec/defaults.js';
import { parseSpec } from '../spec/load.js';
import { API_VERSION, KIND } from '../spec/types.js';
import type { CommandContext } from './context.js';

/** cluster.v1alpha1.json: the schema's file name, as in mk's repository. */
export const SCHEMA_FILE = `cluster.${API_VERSION.split('/')[1]}.json`;

/** The schema as mk schema prints it and mk init writes it. */
export function schemaText(): string {
  return formatDocument('json', schemaDocument) + '\n';
}

/** The starter spec. Pure. */
export function starterSpec(name: string, addons: readonly string[], file = 'cluster.yaml'): string {
  const addonLines = addons.length
    ? ['  # Addons of mk\'s catalog, or your own manifests (- name: my-app, manifests: ./manifests/).', '  addons:', ...addons.map((a) => `    - name: ${a}`)]
    : ['  # Addons of mk\'s catalog, or your own manifests:', '  # addons:', '  #   - name: metrics-server', '  #   - name: my-app', '  #     manifests: ./manifests/'];
  return [
    `# yaml-language-server: $schema=./${SCHEMA_FILE}`,
    `# A Kubernetes cluster for mk: \`mk plan -f ${file}\` shows what \`mk apply -f ${file}\` would do.`,
    '# Only metadata.name is required; `mk schema` prints every field.',
    `apiVersion: ${API_VERSION}`,
    `kind: ${KIND}`,
    'metadata:',
    `  name: ${name}`,
    'spec:',
    `  kubernetesVersion: ${DEFAULT_KUBERNETES_VERSION}`,
    '  driver:',
    '    name: docker',
    '    docker:',
    '      # "": kindest/node:<kubernetesVersion>, pulled from Docker Hub. Without a registry, build a',
    '      # node image and name it here (mk\'s README, "Node images").',
    '      image: ""',
    '      # false where the engine cannot start privileged containers (a sandbox, some CI runners).',
    '      privileged: true',
    '  nodes:',
    '    - name: control-plane',
    '      role: control-plane',
    '      count: 1',
    '    - name: worker',
    '      role: worker',
    '      count: 1',
    ...addonLines,
    '',
  ].join('\n');
}

export interface InitOptions {
  name: string;
  /** The spec file to write. */
  file: string;
  addons: readonly string[];
}

export async function init(ctx: CommandContext, opts: InitOptions): Promise<number> {
  const text = starterSpec(opts.name, opts.addons, opts.file);
  try {
    parseSpec(text, opts.file);
  } catch (err) {
    if (!(err instanceof SpecError)) throw err;
    throw new MkError(`mk init ${opts.name} would write an invalid spec:\n${err.problems.map((p) => `  ${p.path ? `${p.path}: ` : ''}${p.message}`).join('\n')}`);
  }
  await mkdir(dirname(opts.file), { recursive: true });
  try {
    await writeFile(opts.file, text, { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    throw new MkError(`${opts.file} exists; mk init never overwrites a file (remove it, or pass -f with another path)`);
  }
  const schemaFile = join(dirname(opts.file), SCHEMA_FILE);
  const schema = schemaText();
  const existing = await readFile(schemaFile, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (existing === undefined) await writeFile(schemaFile, schema);
  else if (existing !== schema) ctx.reporter.emit({ type: 'warning', message: `${schemaFile} is not this mk's schema; left as it is (mk schema > ${schemaFile} replaces it)` });
  const machine = machineFormat(ctx.output);
  if (machine) {
    ctx.print(formatDocument(machine, { file: opts.file, cluster: opts.name, schemaFile, schemaWritten: existing === undefined }));
  } else {
    ctx.print(`wrote ${opts.file} (cluster "${opts.name}")${existing === undefined ? ` and ${schemaFile} (the schema its first line names, for editors)` : ''}`);
    ctx.print(`next: mk plan -f ${opts.file}, then mk apply -f ${opts.file}`);
  }
  return EXIT.ok;
}

export async function schema(ctx: CommandContext): Promise<number> {
  ctx.print(ctx.output === 'yaml' ? formatDocument('yaml', schemaDocument) : schemaText().trimEnd());
  return EXIT.ok;
}
