// Runs a TypeScript entry (bench scripts) by bundling it with esbuild; dependencies stay external.
import { build } from 'esbuild';
import { mkdir, rename } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { esbuildSchemaValidator } from './lib/schema-validator.mjs';

const entry = process.argv[2];
if (!entry) {
  console.error('usage: node scripts/run-ts.mjs FILE.ts [args...]');
  process.exit(1);
}
const outdir = resolve('node_modules/.cache/mk-run-ts');
await mkdir(outdir, { recursive: true });
const outfile = resolve(outdir, basename(entry).replace(/\.ts$/, '.mjs'));
// Written under a name of its own, then renamed: runs started at once (CI's conformance runs) never import a half-written bundle.
const partial = `${outfile}.${process.pid}.tmp.mjs`;
await build({ entryPoints: [entry], outfile: partial, bundle: true, format: 'esm', platform: 'node', target: 'node20', packages: 'external', logLevel: 'warning', plugins: [esbuildSchemaValidator()] });
await rename(partial, outfile);
process.argv.splice(1, 2, outfile);
await import(pathToFileURL(outfile).href);
