#!/usr/bin/env node
// mk's executable: loads the bundle built by `npm run build` and exits with the command's code.
import { main } from '../dist/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`mk: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
