// The JSON Schema validator of cluster.yaml, compiled ahead of time: ajv's standalone code for
// schema/cluster.v1alpha1.json, so that no run of mk compiles the schema. src/spec/validate.ts imports
// it as ./schema-validator.js, a module that exists only in the build (esbuild, scripts/build.mjs and
// scripts/run-ts.mjs) and in the test runner (vite, vitest.config.ts): both plugins below serve the code
// generated here from the schema on disk, so it is never stale. src/spec/schema-validator.d.ts types it.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const schemaFile = path.join(root, 'schema', 'cluster.v1alpha1.json');
/** Where the generated module would sit: what src/spec/validate.ts imports. */
const VALIDATOR_MODULE = path.join(root, 'src', 'spec', 'schema-validator.js');

/** ESM source of the compiled validator; throws when the schema does not compile in strict mode. */
export async function validatorSource() {
  const { Ajv } = require('ajv');
  const standaloneCode = require('ajv/dist/standalone').default;
  const schema = JSON.parse(await readFile(schemaFile, 'utf8'));
  // The options of the validator src/spec/validate.ts reads errors from: every error, with its schema and data.
  const ajv = new Ajv({ strict: true, allErrors: true, verbose: true, code: { source: true, esm: true } });
  const code = standaloneCode(ajv, ajv.compile(schema));
  // ajv's ESM output still calls require() for its runtime helpers (ajv/dist/runtime/*).
  return `import { createRequire } from "node:module";\nconst require = createRequire(import.meta.url);\n${code}\n`;
}

/** esbuild plugin: serves the generated validator where src/spec/validate.ts imports it. */
export function esbuildSchemaValidator() {
  return {
    name: 'mk-schema-validator',
    setup(build) {
      build.onResolve({ filter: /[/\\]schema-validator\.js$/ }, (args) => {
        const file = path.resolve(args.resolveDir, args.path);
        return file === VALIDATOR_MODULE ? { path: file, namespace: 'mk-generated' } : undefined;
      });
      build.onLoad({ filter: /.*/, namespace: 'mk-generated' }, async () => ({ contents: await validatorSource(), loader: 'js', resolveDir: path.dirname(VALIDATOR_MODULE), watchFiles: [schemaFile] }));
    },
  };
}

/** vite (vitest) plugin: the same module for tests that import src/ directly. */
export function viteSchemaValidator() {
  return {
    name: 'mk-schema-validator',
    resolveId(source, importer) {
      if (!importer || !/[/\\]schema-validator\.js$/.test(source)) return null;
      const file = path.resolve(path.dirname(importer), source);
      return file === VALIDATOR_MODULE ? file : null;
    },
    async load(id) {
      if (id !== VALIDATOR_MODULE) return null;
      this.addWatchFile(schemaFile);
      return validatorSource();
    },
  };
}
