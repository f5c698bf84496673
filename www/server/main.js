#!/usr/bin/env node
// `npm run www [-- --port N]`: start the simulated hosts and serve the page
// on 127.0.0.1; prints the URL. Ctrl-C stops it.
import { startWww } from './www.js';

const args = process.argv.slice(2);
let port = 0;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--port') {
    port = Number(args[++i]);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      console.error(`www: --port must be a whole number within 0..65535, got '${args[i]}'`);
      process.exit(2);
    }
  } else {
    console.error(`www: unknown argument '${args[i]}' (expected: --port N)`);
    process.exit(2);
  }
}
const www = await startWww({ port });
console.log(`weir live view: ${www.url}`);
for (const h of www.hosts) console.log(`  host ${h.name.padEnd(8)} ${h.url}  ${h.about}`);
const stop = async () => {
  await www.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
