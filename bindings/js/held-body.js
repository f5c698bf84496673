// A response body that holds a permit: a pass-through of the platform's
// stream that ends its hold when the body closes, errors or is cancelled.
// Used by `limiter.fetch` (the client's response) and `guard` (the server's
// response); one wrapper for both.
//
// Guarantees: `hold.end()` is called on close, on a read error and on
// cancel (it must be idempotent; it may run more than once); the stream
// pulls only when its reader asks (highWaterMark 0), so a slow reader keeps
// the permit and nothing is buffered beyond one chunk. While it runs,
// `hold.reader` is the source's reader, `hold.controller` the wrapper's,
// `hold.reading` whether a read is pending and `hold.lastPull` when the
// last read ended (`performance.now()`), for idle timeouts.

/**
 * @param {ReadableStream} source
 * @param {{ end(): void }} hold
 * @returns {ReadableStream}
 */
export function releasingBody(source, hold) {
  const reader = source.getReader();
  hold.reader = reader;
  hold.reading = false;
  hold.lastPull = performance.now();
  return new ReadableStream(
    {
      start(controller) {
        hold.controller = controller;
      },
      async pull(controller) {
        hold.reading = true;
        let step;
        try {
          step = await reader.read();
        } catch (error) {
          hold.end();
          controller.error(error);
          return;
        } finally {
          hold.reading = false;
          hold.lastPull = performance.now();
        }
        if (step.done) {
          hold.end();
          controller.close();
        } else {
          controller.enqueue(step.value);
        }
      },
      cancel(reason) {
        hold.end();
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
