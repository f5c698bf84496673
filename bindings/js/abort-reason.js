// What an aborted wait rejects with: the signal's reason, or the platform's
// default AbortError when it gave none.

/** A fresh `AbortError` DOMException, as `AbortController#abort()` makes. */
export function abortError() {
  return new DOMException('This operation was aborted', 'AbortError');
}

/** The reason `signal` was aborted with, or a default AbortError. */
export function abortReason(signal) {
  return signal.reason ?? abortError();
}
