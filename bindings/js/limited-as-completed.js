// `limitedAsCompleted(source, mapper, options)`: the pull loop
// (as-completed.js) over a Limiter of its own, made from the options.
//
// Guarantees: those of the pull loop, under a limiter nobody else uses; with
// one key and no quota its permits are leased in bulk and passed from item
// to item (the loop gives them back when an item must queue, and at the end).
// With a `key` function and `perKey`, the pull loop runs the core's keyed
// look-ahead with the same caps, so an item it starts is admitted at once
// (save for a rate quota) and a saturated key never blocks another.
import { options, optionChecks } from './options.js';
import { Limiter, rawOf } from './limiter.js';
import { pullAsCompleted } from './as-completed.js';

const { whole, cap } = optionChecks('');

/**
 * Map a (sync or async) iterable with at most `concurrency` items in flight,
 * yielding results in completion order; see `Limiter#asCompleted`.
 */
export function limitedAsCompleted(source, mapper, opts) {
  const o = options(opts, 'limitedAsCompleted', [
    'concurrency', 'perKey', 'key', 'rate', 'perKeyRate', 'cost', 'signal', 'failFast',
    'ordered', 'lookahead',
  ]);
  if (o.concurrency === undefined) {
    throw new TypeError("limitedAsCompleted: option 'concurrency' is required");
  }
  const window = whole(o.concurrency, 'concurrency');
  const perKey = cap(o.perKey, 'perKey');
  // The keyed look-ahead: a key function and a per-key cap, in completion order.
  const keyed = typeof o.key === 'function' && perKey !== undefined && o.ordered !== true;
  let lookahead;
  if (o.lookahead !== undefined) {
    if (o.ordered === true) {
      throw new TypeError("limitedAsCompleted: option 'lookahead' does not apply with 'ordered: true' (results wait in the reorder window)");
    }
    if (!keyed) {
      throw new TypeError("limitedAsCompleted: option 'lookahead' needs a 'key' function and 'perKey'");
    }
    lookahead = whole(o.lookahead, 'lookahead');
  }
  const limiter = new Limiter({
    concurrency: window,
    perKey: o.perKey,
    rate: o.rate,
    perKeyRate: o.perKeyRate,
  });
  // The limiter is this iteration's alone: with one key and no rate quota,
  // permits can be leased in bulk and passed from item to item.
  const lease = o.rate === undefined && o.perKeyRate === undefined;
  return pullAsCompleted(limiter, rawOf(limiter), source, mapper, {
    ...o, window, lease, perKey: keyed ? perKey : undefined, lookahead,
  });
}
