// The JS `weir` as bin/weir.js runs it, followed by the live heap after a
// final GC (run under `node --expose-gc`): the memory test's probe, kept out
// of the shipped command.
import { EventEmitter } from 'node:events';
import { main } from '../../js/cli/main.js';

EventEmitter.defaultMaxListeners = 0;
const code = await main(process.argv.slice(2));
globalThis.gc();
process.stderr.write(`weir: live heap after GC: ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(1)} MB\n`);
process.exitCode = code ?? 0;
