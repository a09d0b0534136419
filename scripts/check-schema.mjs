// Compile schema/cluster.v1alpha1.json with ajv in strict mode (schema mistakes fail here) and
// check that every clusters/*.yaml passes the raw schema. Runs before the build; exits non-zero on failure.
import { readFile, readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { Ajv } from 'ajv';
import yaml from 'js-yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const schemaFile = path.join(root, 'schema', 'cluster.v1alpha1.json');
const clustersDir = path.join(root, 'clusters');

async function main() {
  const failures = [];
  let validate;
  try {
    const schema = JSON.parse(await readFile(schemaFile, 'utf8'));
    validate = new Ajv({ strict: true, allErrors: true }).compile(schema);
  } catch (err) {
    console.error(`check-schema: ${path.relative(root, schemaFile)} does not compile: ${err.message}`);
    return 1;
  }

  const files = (await readdir(clustersDir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  let documents = 0;
  for (const name of files) {
    const rel = path.join('clusters', name);
    let docs;
    try {
      docs = yaml.loadAll(await readFile(path.join(clustersDir, name), 'utf8')).filter((d) => d != null);
    } catch (err) {
      failures.push(`${rel}: invalid YAML: ${err.reason ?? err.message}`);
      continue;
    }
    if (docs.length === 0) failures.push(`${rel}: no cluster document`);
    for (const doc of docs) {
      documents += 1;
      if (!validate(doc)) {
        for (const e of validate.errors ?? []) failures.push(`${rel}: ${e.instancePath || '/'} ${e.message}`);
      }
    }
  }
  if (files.length === 0) failures.push('clusters/: no *.yaml files');

  for (const f of failures) console.error(`check-schema: ${f}`);
  const summary = `schema ok (strict); ${documents} document(s) in ${files.length} file(s) under clusters/`;
  console.log(failures.length === 0 ? `check-schema: ${summary}` : `check-schema: FAILED with ${failures.length} problem(s)`);
  return failures.length === 0 ? 0 : 1;
}

process.exitCode = await main();
