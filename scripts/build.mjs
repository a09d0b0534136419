// Bundles src/ into dist/ with esbuild: mk's own code in a few files, dependencies loaded from
// node_modules at run time, commands split into chunks so `mk --version` loads almost nothing; the
// spec's JSON Schema validator compiled in (scripts/lib/schema-validator.mjs).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFile, realpath, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { esbuildSchemaValidator } from './lib/schema-validator.mjs';

const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));

/** The commit of mk's own checkout; "unknown" outside one (an unpacked tarball, even inside another repository). */
async function gitCommit() {
  const root = await realpath(fileURLToPath(new URL('..', import.meta.url)));
  const git = (...args) => execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    if ((await realpath(git('rev-parse', '--show-toplevel'))) !== root) return 'unknown';
    return git('rev-parse', 'HEAD');
  } catch {
    return 'unknown';
  }
}
await rm(new URL('../dist', import.meta.url), { recursive: true, force: true });
const started = Date.now();
await build({
  entryPoints: ['src/main.ts'],
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  define: { MK_VERSION: JSON.stringify(pkg.version), MK_COMMIT: JSON.stringify(await gitCommit()) },
  logLevel: 'warning',
  plugins: [esbuildSchemaValidator()],
});
console.log(`built dist/ in ${Date.now() - started}ms`);
