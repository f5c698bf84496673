// `limitedAsCompleted(source, mapper, options)`: the pull loop
// (as-completed.js) over a Limiter of its own, made from the options.
//
// Guarantees: those of the pull loop, under a limiter nobody else uses; with
// one key and no quota its permits are leased in bulk and passed from item
// to item (the loop gives them back when an item must queue, and at the end).
import { options, optionChecks } from './options.js';
import { Limiter, rawOf } from './limiter.js';
import { pullAsCompleted } from './as-completed.js';

const { whole } = optionChecks('');

/**
 * Map a (sync or async) iterable with at most `concurrency` items in flight,
 * yielding results in completion order; see `Limiter#asCompleted`.
 */
export function limitedAsCompleted(source, mapper, opts) {
  const o = options(opts, 'limitedAsCompleted', [
    'concurrency', 'perKey', 'key', 'rate', 'perKeyRate', 'cost', 'signal', 'failFast',
  ]);
  if (o.concurrency === undefined) {
    throw new TypeError("limitedAsCompleted: option 'concurrency' is required");
  }
  const window = whole(o.concurrency, 'concurrency');
  const limiter = new Limiter({
    concurrency: window,
    perKey: o.perKey,
    rate: o.rate,
    perKeyRate: o.perKeyRate,
  });
  // The limiter is this iteration's alone: with one key and no rate quota,
  // permits can be leased in bulk and passed from item to item.
  const lease = o.rate === undefined && o.perKeyRate === undefined;
  return pullAsCompleted(limiter, rawOf(limiter), source, mapper, { ...o, window, lease });
}
