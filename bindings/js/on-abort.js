// One 'abort' listener per signal, however many waits share the signal.
//
// Guarantees:
// - a callback added with `onAbort(signal, fn)` runs at most once: when the
//   signal aborts, unless the returned `remove` ran first;
// - the signal carries one listener of ours while any callback is
//   registered on it, and none once they are all removed or have run (no
//   MaxListenersExceededWarning however many waits share one signal);
// - callbacks run in the order they were added.

/** signal → its group: { fns: Set, listener } */
const groups = new WeakMap();

/** Call `fn()` when `signal` aborts; returns `remove()`. */
export function onAbort(signal, fn) {
  let group = groups.get(signal);
  if (group === undefined) {
    const fns = new Set();
    const listener = () => {
      groups.delete(signal);
      for (const f of fns) f();
      fns.clear();
    };
    group = { fns, listener };
    groups.set(signal, group);
    signal.addEventListener('abort', listener, { once: true });
  }
  const { fns, listener } = group;
  fns.add(fn);
  return () => {
    if (fns.delete(fn) && fns.size === 0 && groups.get(signal) === group) {
      groups.delete(signal);
      signal.removeEventListener('abort', listener);
    }
  };
}
