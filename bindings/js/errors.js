// The package's error classes: every error it documents is one of these (or
// a built-in TypeError / RangeError for bad options), exported from every
// entry so callers can test with `instanceof`.
//
// Guarantees: `name` equals the class name; the message names the option or
// limit involved; a core error reaching JS goes through `fromCore`, so the
// class a caller catches does not depend on which side threw.

/** An acquire found `maxQueue` acquires already waiting. */
export class QueueFullError extends Error {
  constructor(message) {
    super(message);
    this.name = 'QueueFullError';
  }
}

/** The whole request (queueing included) took longer than `timeout`. */
export class TimeoutError extends Error {
  constructor(ms) {
    super(`weir: request timed out after ${ms} ms (option 'timeout')`);
    this.name = 'TimeoutError';
  }
}

/** Waiting for a permit took longer than `queueTimeout`. */
export class QueueTimeoutError extends Error {
  constructor(ms) {
    super(`weir: no permit within ${ms} ms (option 'queueTimeout')`);
    this.name = 'QueueTimeoutError';
  }
}

/** Nobody read the response body for `bodyTimeout` ms: the permit was released. */
export class BodyTimeoutError extends Error {
  constructor(ms) {
    super(`weir: response body not read for ${ms} ms (option 'bodyTimeout'); its permit was released`);
    this.name = 'BodyTimeoutError';
  }
}

/** The JS error for an error the wasm side threw or reported. */
export function fromCore(error) {
  return error?.name === 'QueueFullError' ? new QueueFullError(error.message) : error;
}
