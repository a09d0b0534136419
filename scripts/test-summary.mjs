// Sums vitest JSON reports (written when MK_TEST_RESULTS is set) into one closing line:
// "tests: N passed, N failed, N skipped"; then a line per conformance run (DIR/conformance/*/summary.json).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

const dir = process.argv[2] ?? '.ci-results';
let passed = 0, failed = 0, skipped = 0;
for (const f of (await readdir(dir)).filter((f) => f.endsWith('.json')).sort()) {
  const r = JSON.parse(await readFile(join(dir, f), 'utf8'));
  passed += r.numPassedTests ?? 0;
  failed += r.numFailedTests ?? 0;
  skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  console.log(`${f.replace(/\.json$/, '')}: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
let conformanceFailed = 0;
for (const run of (await readdir(join(dir, 'conformance')).catch(() => [])).sort()) {
  const s = await readFile(join(dir, 'conformance', run, 'summary.json'), 'utf8').then(JSON.parse, () => undefined);
  if (!s) continue;
  const c = s.counts;
  conformanceFailed += c.failed + c.notRun;
  console.log(`conformance ${run} (${s.driver} driver, ${s.mode}): ${c.passed} passed, ${c.failed} failed, ${c.skippedForImage} skipped for an image not built here, ${c.notRun} not run, ${Math.round(s.wallSeconds / 60)} min`);
}
process.exitCode = failed + conformanceFailed > 0 ? 1 : 0;
