import { defineConfig } from 'vitest/config';
import { viteSchemaValidator } from './scripts/lib/schema-validator.mjs';

// Three tiers: unit (pure, fast), integration (real Docker engine, real sshd),
// e2e (real Kubernetes components built from source, see test/k8s/).
// With MK_TEST_RESULTS set (CI), each run also writes a JSON report there, named after the npm
// script that ran it; scripts/test-summary.mjs adds them up into one closing line.
const results = process.env.MK_TEST_RESULTS;
const runName = (process.env.npm_lifecycle_event ?? 'vitest').replace(/[^a-z0-9-]/gi, '-');
// src/spec/validate.ts imports the schema validator compiled from schema/ (as the build does).
const plugins = [viteSchemaValidator()];

export default defineConfig({
  test: {
    reporters: results ? ['default', ['json', { outputFile: `${results}/${runName}.json` }]] : ['default'],
    projects: [
      { plugins, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        plugins,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
      {
        plugins,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 3_600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
