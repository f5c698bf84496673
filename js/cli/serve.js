// `weir serve`: the local target server, by hand (127.0.0.1 only).
import { startTarget } from '../../bindings/js/server/target.js';

/** Run the target server until SIGINT/SIGTERM; resolves to the exit code. */
export async function runServe(opts, { stdout = process.stdout, stderr = process.stderr } = {}) {
  let target;
  try {
    target = await startTarget({
      port: opts.port,
      delayMs: opts.delayMs,
      capacity: opts.capacity ?? Infinity,
      status429Rate: opts.status429Rate,
    });
  } catch (error) {
    if (error?.syscall !== 'listen') throw error;
    // A port in use or not ours to take: the user's argument, not a bug.
    stderr.write(`weir serve: --port: cannot listen on 127.0.0.1:${opts.port} (${error.code})\n`);
    return 2;
  }
  const [lo, hi] = opts.delayMs;
  stdout.write(
    `weir serve: listening on ${target.url} (delay ${lo}-${hi} ms, ` +
      `${opts.capacity === undefined || opts.capacity === Infinity ? '' : `capacity ${opts.capacity}, `}429 rate ${opts.status429Rate}; ` +
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
