// Bundles src/ into dist/ with esbuild: mk's own code in a few files, dependencies loaded from
// node_modules at run time, commands split into chunks so `mk --version` loads almost nothing.
import { build } from 'esbuild';
import { readFile, rm } from 'node:fs/promises';

const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
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
  define: { MK_VERSION: JSON.stringify(pkg.version) },
  logLevel: 'warning',
});
console.log(`built dist/ in ${Date.now() - started}ms`);
