// `weir serve`: the local target server, by hand (127.0.0.1 only).
import { startTarget } from '../../bindings/js/server/target.js';

/** Run the target server until SIGINT/SIGTERM; resolves to the exit code. */
export async function runServe(opts, { stdout = process.stdout } = {}) {
  const target = await startTarget({
    port: opts.port,
    delayMs: opts.delayMs,
    status429Rate: opts.status429Rate,
  });
  const [lo, hi] = opts.delayMs;
  stdout.write(
    `weir serve: listening on ${target.url} (delay ${lo}-${hi} ms, 429 rate ${opts.status429Rate}; ` +
      `stats at ${target.url}/__weir/stats)\n`,
  );
  await new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await target.close();
  return 0;
}
