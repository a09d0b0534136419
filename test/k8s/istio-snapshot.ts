// Real istio release files for tests, from the one source this machine and CI can reach: the Go
// module proxy's zip of istio.io/istio at a pinned pseudo-version (checked by the go command
// against sum.golang.org). It is a development snapshot, not the release the catalog pins (those
// bytes need GitHub), so tests render from it directly instead of through the pinned URLs.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { CatalogAddon } from '../../src/catalog/types.js';

export const ISTIO_SNAPSHOT = 'istio.io/istio@v0.0.0-20260827124520-eed52ebb66ad';

/** The files an addon's `fetched` section names, read from the snapshot's module directory. */
export async function istioSnapshotFiles(entry: CatalogAddon): Promise<Record<string, string>> {
  const { stdout } = await promisify(execFile)('go', ['mod', 'download', '-json', ISTIO_SNAPSHOT], { maxBuffer: 1 << 20, timeout: 300_000 });
  const { Dir, Error: err } = JSON.parse(stdout) as { Dir?: string; Error?: string };
  if (!Dir) throw new Error(`go mod download ${ISTIO_SNAPSHOT}: ${err ?? 'no module directory'}`);
  const out: Record<string, string> = {};
  for (const [key, file] of Object.entries(entry.fetched?.files ?? {})) out[key] = await readFile(path.join(Dir, file.path), 'utf8');
  return out;
}
