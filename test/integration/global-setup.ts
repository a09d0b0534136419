// Runs once before the integration tier: a Docker engine must answer, and the local node image
// must exist (built by scripts/build-node-image.sh: ~0.1 s when present, seconds from its cache,
// about 3 minutes cold).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';

const run = promisify(execFile);

export default async function setup(): Promise<void> {
  try {
    await new Docker().ping();
  } catch (err) {
    throw new Error(`integration tests need a Docker engine (start one with: sudo bash scripts/start-docker.sh): ${(err as Error).message}`);
  }
  if (process.env.MK_TEST_IMAGE) return; // the caller provides its own image
  const script = fileURLToPath(new URL('../../scripts/build-node-image.sh', import.meta.url));
  await run('bash', [script], { timeout: 900_000, maxBuffer: 64 * 1024 * 1024 });
}
