// Host timers for delays of any length, and the longest duration an option
// accepts.
//
// Guarantees:
// - `setTimer(fn, ms, arg)` calls `fn(arg)` once, no earlier than `ms` from
//   now, for any `ms` up to `MAX_DURATION_MS`: the host's `setTimeout` caps
//   at 2^31 - 1 ms (Node fires a longer one after 1 ms with a
//   TimeoutOverflowWarning, browsers at once), so longer delays run as a
//   chain of capped timers;
// - `clearTimer(handle)` cancels it at any point of the chain;
// - a delay within the cap is one plain `setTimeout` (no extra object).

/** The longest delay one host `setTimeout` keeps: 2^31 - 1 ms (~24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The longest duration any option accepts: 10^12 ms (~31.7 years). */
export const MAX_DURATION_MS = 1e12;

/** A delay longer than one host timer: re-armed until its deadline. */
class LongTimer {
  constructor(fn, ms, arg) {
    this.fn = fn;
    this.arg = arg;
    this.left = ms;
    this.handle = undefined;
    this.arm();
  }

  arm() {
    const step = Math.min(this.left, MAX_TIMER_MS);
    this.left -= step;
    this.handle = setTimeout(() => {
      if (this.left > 0) this.arm();
      else this.fn(this.arg);
    }, step);
  }

  clear() {
    clearTimeout(this.handle);
  }
}

/** `setTimeout(fn, ms, arg)` for any `ms` up to `MAX_DURATION_MS`. */
export function setTimer(fn, ms, arg) {
  return ms <= MAX_TIMER_MS ? setTimeout(fn, ms, arg) : new LongTimer(fn, ms, arg);
}

/** Cancel a timer from `setTimer` (`undefined` is ignored). */
export function clearTimer(handle) {
  if (handle instanceof LongTimer) handle.clear();
  else clearTimeout(handle);
}
