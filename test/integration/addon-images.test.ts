// scripts/addon-images.sh (npm run addon-images): every image the catalog runs is either built by
// it or named as not buildable here, with the reason; the images it has built are checked
// (entrypoint, cmd and user as upstream's, a start offline). Building is not part of this test: the
// check runs only on images already built (cached), and is skipped with the reason when there are none.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CATALOG } from '../../src/catalog/index.js';
import { LOCAL_BUILDS, repositoryOf as repository } from '../../src/catalog/local-builds.js';
import { ROOT } from '../helpers/cli.js';

const run = promisify(execFile);
const SCRIPT = join(ROOT, 'scripts/addon-images.sh');

interface Row { name: string; version: string; tag: string; standsFor: string; state: string }

async function list(): Promise<Row[]> {
  const { stdout } = await run('bash', [SCRIPT, 'list'], { timeout: 60_000 });
  return stdout.trim().split('\n').map((line) => {
    const [name = '', version = '', tag = '', standsFor = '', state = ''] = line.split('\t');
    return { name, version, tag, standsFor, state };
  });
}

const rows = await list();
const built = rows.filter((r) => r.name !== '-');
const ready = built.filter((r) => r.state === 'present' || r.state === 'cached');
const noImages = ready.length === 0 ? `no addon image is built yet (run npm run addon-images): ${built.map((r) => `${r.name} ${r.state}`).join(', ')}` : false;
if (noImages) console.warn(`addon-images check skipped: ${noImages}`);

describe('addon images (scripts/addon-images.sh)', () => {
  it('lists each image it builds as mk.local/addons/<name>:<version>, standing for one upstream image', () => {
    expect(built.length).toBeGreaterThan(0);
    for (const r of built) {
      expect(r.tag).toBe(`mk.local/addons/${r.name}:${r.version}`);
      expect(['present', 'cached', 'stale', 'missing']).toContain(r.state);
    }
    const standsFor = built.map((r) => r.standsFor);
    expect(new Set(standsFor).size).toBe(standsFor.length);
    // What mk's plan errors and the README tell users to put in addons[].images.
    expect(Object.fromEntries(built.map((r) => [r.standsFor, r.tag]))).toEqual(LOCAL_BUILDS);
  });

  it('accounts for every image of the catalog: built here, or not buildable with a reason', () => {
    const known = new Map(rows.map((r) => [r.standsFor, r]));
    const unaccounted = [...CATALOG.values()].flatMap((a) => Object.values(a.images).map((ref) => `${a.name}: ${repository(ref)}`))
      .filter((entry) => !known.has(entry.slice(entry.indexOf(': ') + 2)));
    expect(unaccounted).toEqual([]);
    for (const r of rows.filter((row) => row.name === '-')) expect(r.state).toMatch(/^unbuildable: .{10,}/);
  });

  it.skipIf(noImages)('the built images have upstream entrypoint, cmd and user, and start offline', async () => {
    const r = await run('bash', [SCRIPT, 'check', ...ready.map((row) => row.name)], { timeout: 300_000 }).catch((err: { stderr?: string; message: string }) => {
      throw new Error(`addon-images.sh check failed:\n${err.stderr ?? err.message}`);
    });
    for (const row of ready) expect(r.stderr).toMatch(new RegExp(`${row.name} +(present|cached) `));
  });
});
