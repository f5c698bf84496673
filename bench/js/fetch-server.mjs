// The benchmark's target server in its own process: "Hello, World!" after a
// random delay (argv[2]..argv[3] ms), at most argv[4] served at once (a
// capacity knee; default none). Prints its URL on stdout, serves until
// stdin closes.
import { startTarget } from '../../bindings/js/server/target.js';

const [min = '0', max = '300', capacity] = process.argv.slice(2);
const target = await startTarget({
  delayMs: [Number(min), Number(max)],
  capacity: capacity === undefined ? Infinity : Number(capacity),
});
process.stdout.write(`${target.url}\n`);
process.stdin.resume();
process.stdin.on('end', async () => {
  await target.close();
  process.exit(0);
});
