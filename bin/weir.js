#!/usr/bin/env node
// The `weir` command: see js/cli/main.js (or `weir --help`).
import { main } from '../js/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code ?? 0;
  },
  (error) => {
    process.stderr.write(`weir: ${error?.stack ?? error}\n`);
    process.exitCode = 1;
  },
);
