// Loading cluster specs: YAML text -> validated, defaulted LoadedCluster, with every problem
// reported at once as a SpecError carrying file:line:column and the data path.
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { SpecError, SpecFileError } from '../errors.js';
import type { SpecProblem } from '../errors.js';
import { ManifestOutsideError } from '../manifests/errors.js';
import { resolveLocalManifests } from '../manifests/load.js';
import { SPEC_LIMITS, sizeProblem } from './bounds.js';
import { applyDefaults } from './defaults.js';
import type { ClusterInput } from './input.js';
import { parseYamlDocuments, YamlSyntaxError } from './positions.js';
import type { PositionMap } from './positions.js';
import type { Cluster, LoadedCluster } from './types.js';
import { validateCluster } from './validate.js';

export interface LoadOptions {
  /** Reads standard input; used when the target is `-`. Default: readSpecSource (process.stdin, up to the size limit). */
  stdin?: () => Promise<string>;
}

/** The folder a spec's relative paths are resolved against: its file's, or the working directory for stdin. */
function specDir(file: string): string {
  return file === '-' ? process.cwd() : path.dirname(path.resolve(file));
}

/** The local paths a cluster names (CNI manifest, addon manifests), each with its data path. */
function localPaths(cluster: Cluster): { path: string; relative: string }[] {
  const out: { path: string; relative: string }[] = [];
  const cni = cluster.spec.networking.cni;
  if (cni !== 'auto' && cni !== 'none') out.push({ path: 'spec.networking.cni', relative: cni });
  cluster.spec.addons.forEach((addon, i) => {
    if (addon.manifests !== undefined && !/^https:\/\//.test(addon.manifests)) out.push({ path: `spec.addons[${i}].manifests`, relative: addon.manifests });
  });
  return out;
}

/** Local files a cluster refers to (CNI manifest, addon manifests), resolved against the spec's directory. */
export function specReferences(cluster: Cluster, file: string): string[] {
  const base = specDir(file);
  return [...new Set(localPaths(cluster).map((p) => path.resolve(base, p.relative)))];
}

interface Parsed {
  clusters: { loaded: LoadedCluster; positions: PositionMap }[];
  problems: SpecProblem[];
}

function parseWithPositions(text: string, file: string): Parsed {
  const tooLarge = sizeProblem(Buffer.byteLength(text, 'utf8'));
  if (tooLarge) return { clusters: [], problems: [fileProblem(file, tooLarge)] };
  let docs;
  try {
    docs = parseYamlDocuments(text);
  } catch (err) {
    if (err instanceof YamlSyntaxError) {
      return { clusters: [], problems: [{ file, ...err.position, path: err.path, message: err.message }] };
    }
    throw err;
  }
  if (docs.length === 0) {
    return { clusters: [], problems: [{ file, line: 1, column: 1, path: '', message: 'no cluster in this file (it is empty)' }] };
  }
  const out: Parsed = { clusters: [], problems: [] };
  for (const doc of docs) {
    const issues = validateCluster(doc.data);
    if (issues.length > 0) {
      const problems = issues.map((issue) => ({ file, ...doc.positions.at(issue.path, issue.at), path: issue.path, message: issue.message }));
      // In reading order; the sort is stable, so problems at one spot keep schema-then-rule order.
      out.problems.push(...problems.sort((a, b) => a.line - b.line || a.column - b.column));
      continue;
    }
    const cluster = applyDefaults(doc.data as ClusterInput);
    out.clusters.push({ loaded: { file, cluster, references: specReferences(cluster, file) }, positions: doc.positions });
  }
  return out;
}

function duplicateProblems(clusters: Parsed['clusters']): SpecProblem[] {
  const first = new Map<string, Parsed['clusters'][number]>();
  const problems: SpecProblem[] = [];
  for (const c of clusters) {
    const name = c.loaded.cluster.metadata.name;
    const earlier = first.get(name);
    if (!earlier) {
      first.set(name, c);
      continue;
    }
    const at = earlier.positions.at('metadata.name');
    problems.push({
      file: c.loaded.file,
      ...c.positions.at('metadata.name'),
      path: 'metadata.name',
      message: `cluster "${name}" is also defined in ${earlier.loaded.file}:${at.line}:${at.column}`,
    });
  }
  return problems;
}

/**
 * Parse, validate and default every cluster document in `text`. Pure (no file system access).
 * `file` names the source in problems and anchors relative references. Throws SpecError with all problems.
 */
export function parseSpecs(text: string, file: string): LoadedCluster[] {
  const parsed = parseWithPositions(text, file);
  const problems = [...parsed.problems, ...duplicateProblems(parsed.clusters)];
  if (problems.length > 0) throw new SpecError(problems);
  return parsed.clusters.map((c) => c.loaded);
}

/** Like parseSpecs for text that holds exactly one cluster document. */
export function parseSpec(text: string, file: string): LoadedCluster {
  const all = parseSpecs(text, file);
  if (all.length !== 1) {
    throw new SpecError([{ file, line: 1, column: 1, path: '', message: `expected one cluster, found ${all.length} YAML documents` }]);
  }
  return all[0]!;
}

/**
 * The text of a spec file or of standard input (the default), read up to one byte past the size
 * limit: an endless stream (`-f - < /dev/zero`) or a 20 MB file is read no further, then refused.
 */
export async function readSpecSource(input: AsyncIterable<Buffer> = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of input) {
    chunks.push(chunk);
    bytes += chunk.length;
    if (bytes > SPEC_LIMITS.fileBytes) break;
  }
  return Buffer.concat(chunks).toString('utf8');
}

function fileProblem(file: string, message: string): SpecProblem {
  return { file, line: 1, column: 1, path: '', message };
}

/**
 * Manifest paths that lead outside the spec's folder through the file system (a symlink, a file
 * under a symlinked folder, a symlink inside a manifests folder); `..` is refused by the rules
 * already. Other problems with the files (missing, a kustomization) are left to when they are read.
 */
async function outsideProblems(c: Parsed['clusters'][number]): Promise<SpecProblem[]> {
  const { file, cluster } = c.loaded;
  const problems: SpecProblem[] = [];
  for (const ref of localPaths(cluster)) {
    try {
      await resolveLocalManifests(specDir(file), ref.relative);
    } catch (err) {
      if (!(err instanceof ManifestOutsideError)) continue;
      problems.push({ file, ...c.positions.at(ref.path), path: ref.path, message: err.message });
    }
  }
  return problems;
}

/** What a failed read of a spec file or directory means, in words. */
function readProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? 'does not exist' : code === 'EACCES' || code === 'EPERM' ? 'may not be read (permission denied)' : `cannot be read (${code ?? String(err)})`;
}

/** The files a target names: `-`, one file, or every *.yaml / *.yml directly in a directory (sorted). Throws SpecFileError when there are none. */
async function sources(target: string): Promise<string[]> {
  if (target === '-') return ['-'];
  const abs = path.resolve(target);
  let info;
  try {
    info = await stat(abs);
  } catch (err) {
    throw new SpecFileError(target, readProblem(err));
  }
  if (!info.isDirectory()) return [abs];
  const entries = await readdir(abs, { withFileTypes: true }).catch((err: unknown) => {
    throw new SpecFileError(target, readProblem(err));
  });
  const files = entries
    .filter((e) => (e.isFile() || e.isSymbolicLink()) && /\.ya?ml$/i.test(e.name))
    .map((e) => path.join(abs, e.name))
    .sort();
  if (files.length === 0) throw new SpecFileError(target, 'is a directory without *.yaml or *.yml files');
  return files;
}

/**
 * Load every cluster of a file, a directory (its *.yaml / *.yml files, not recursive) or `-` (stdin).
 * A target (or a file of it) that cannot be read is a SpecFileError. Problems from all files are
 * collected and thrown as one SpecError; a cluster name defined twice is one, and so is a manifest
 * path that the file system leads outside the spec's folder.
 */
export async function loadSpecs(target: string, opts: LoadOptions = {}): Promise<LoadedCluster[]> {
  const files = await sources(target);
  const problems: SpecProblem[] = [];
  const clusters: Parsed['clusters'] = [];
  for (const file of files) {
    let text: string;
    try {
      text = file === '-' ? await (opts.stdin ?? readSpecSource)() : await readSpecSource(createReadStream(file));
    } catch (err) {
      // A file of the directory that went away or may not be read.
      throw new SpecFileError(file, readProblem(err));
    }
    const parsed = parseWithPositions(text, file);
    problems.push(...parsed.problems);
    clusters.push(...parsed.clusters);
  }
  for (const c of clusters) problems.push(...(await outsideProblems(c)));
  problems.push(...duplicateProblems(clusters));
  if (problems.length > 0) throw new SpecError(problems);
  return clusters.map((c) => c.loaded);
}
