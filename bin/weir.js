#!/usr/bin/env node
// The `weir` command: see js/cli/main.js (or `weir --help`).
import { EventEmitter } from 'node:events';
import { main } from '../js/cli/main.js';

// Thousands of requests in flight each listen on shared AbortSignals (the
// pipeline's abort, limitedAsCompleted's own): not a leak, so no warning.
EventEmitter.defaultMaxListeners = 0;

main(process.argv.slice(2)).then(
  (code) => {
    // Interrupted: what is still in flight is abandoned (with `--timeout
    // none` nothing would end it), so leave now, as a SIGINT would.
    if (code === 130) process.exit(code);
    process.exitCode = code ?? 0;
  },
  (error) => {
    process.stderr.write(`weir: ${error?.stack ?? error}\n`);
    process.exitCode = 1;
  },
);
