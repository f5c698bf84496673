// A held permit: the release function a caller gets (idempotent,
// `using`-disposable) and `run`'s holding of a permit while its work runs.
//
// Guarantees: a permit id is released exactly once; `run` releases it when
// the work settles (fulfilled, rejected or thrown synchronously), even when
// the caller's signal aborted first, so caps hold for work that ignores its
// signal.
import { abortReason } from './abort-reason.js';
import { onAbort } from './on-abort.js';

const disposeSymbol = Symbol.dispose ?? Symbol.for('Symbol.dispose');
/** What `fn` of a `run` without a signal receives (one object for all). */
export const NO_SIGNAL = Object.freeze({ signal: undefined });

/** A release function for `id` (idempotent; also `[Symbol.dispose]`). */
export function releaser(raw, id) {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    raw.release(id);
  };
  release[disposeSymbol] = release;
  return release;
}

/** Run `fn` holding permit `id`; on abort reject at once but keep the permit
 * until `fn` settles, so caps hold even for work that ignores the signal. */
export function runHolding(raw, id, fn, signal) {
  let work;
  try {
    work = Promise.resolve(fn(signal === undefined ? NO_SIGNAL : { signal }));
  } catch (error) {
    raw.release(id);
    return Promise.reject(error);
  }
  const release = () => {
    raw.release(id);
  };
  work.then(release, release);
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    const remove = onAbort(signal, () => reject(abortReason(signal)));
    work.then(
      (value) => {
        remove();
        resolve(value);
      },
      (error) => {
        remove();
        reject(error);
      },
    );
  });
}
