import { defineConfig } from 'vitest/config';

// Three tiers: unit (pure, fast), integration (real Docker engine, real sshd),
// e2e (real Kubernetes components built from source, see test/k8s/).
// With MK_TEST_RESULTS set (CI), each run also writes a JSON report there, named after the npm
// script that ran it; scripts/test-summary.mjs adds them up into one closing line.
const results = process.env.MK_TEST_RESULTS;
const runName = (process.env.npm_lifecycle_event ?? 'vitest').replace(/[^a-z0-9-]/gi, '-');

export default defineConfig({
  test: {
    reporters: results ? ['default', ['json', { outputFile: `${results}/${runName}.json` }]] : ['default'],
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
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
