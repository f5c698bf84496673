// `guard(handler, { store, ... })`: the guard's answers (429/503 with
// Retry-After and RateLimit-* headers, the permit held until the body is
// streamed) with the decisions of the shared store: a lease per cap and one
// gcra.lua call per request, never waiting (a guard sheds, it does not
// queue). The responses are built by guard.js's own helpers, passed in
// (`h`), so this module adds no answer of its own; the figures are the
// core's formulas over the returned TATs (figures.js).
//
// Under a store failure, `onStoreError`: 'closed' sheds with `status` and
// `busyRetryAfter` (reason 'store'); 'open' runs the handler unguarded;
// 'local' answers through an in-memory guard with the same options divided
// by `localShare`, until the store answers again.

import { answerHolding } from '../guard.js';
import { divide } from './shared.js';

export function storeGuard(handler, o, h) {
  if (o.queue !== undefined) {
    throw new TypeError("guard: option 'queue' is not supported with a store (a shared guard answers at once)");
  }
  const policy = o.onStoreError ?? 'closed';
  const share = o.localShare ?? 1;
  // Validates onStoreError and localShare (and subscribes when there are caps).
  const admission = o.store.attach(
    { concurrency: o.concurrency, perKey: o.perKey, rate: o.rate, perKeyRate: o.perKeyRate, onStoreError: policy, localShare: share },
    { acquireLocal: async () => () => {}, makeLocal: () => undefined },
  );
  const keyOf = o.key ?? h.defaultKey(o.keyHeader);
  let fallback;
  const local = () =>
    (fallback ??= h.localGuard({
      concurrency: o.concurrency === undefined ? undefined : Math.max(1, Math.floor(o.concurrency / share)),
      perKey: o.perKey === undefined ? undefined : Math.max(1, Math.floor(o.perKey / share)),
      rate: divide(o.rate, share),
      perKeyRate: divide(o.perKeyRate, share),
      status: o.status,
      busyRetryAfter: o.busyRetryAfter,
      ...(o.key === undefined ? {} : { key: o.key }),
      ...(o.keyHeader === undefined ? {} : { keyHeader: o.keyHeader }),
      ...(o.onReject === undefined ? {} : { onReject: o.onReject }),
    }));

  const shed = async (request, key, reason, retryAfter, rate) => {
    if (o.onReject) {
      const custom = await o.onReject(request, { key, reason, retryAfter, status: o.status });
      if (custom instanceof Response) return custom;
    }
    return h.shedResponse(h.shedAnswer(o.status, retryAfter, rate));
  };

  const guarded = async (request, env, ctx) => {
    let key = keyOf(request, env, ctx);
    if (key !== null && typeof key === 'object' && typeof key.then === 'function') key = await key;
    key = h.keyString(key);
    let decision;
    try {
      decision = await admission.tryAdmit(key, 1);
    } catch (error) {
      if (error?.name !== 'StoreError') throw error;
      if (policy === 'open') return handler(request, env, ctx);
      if (policy === 'local') return local()(request, env, ctx);
      return shed(request, key, 'store', o.busyRetryAfter, null);
    }
    if (decision.busy) return shed(request, key, 'concurrency', o.busyRetryAfter, null);
    const rate = decision.figures === null ? null : h.rateHeaders(decision.figures);
    if (decision.release === undefined) {
      return shed(request, key, 'rate', Math.ceil(decision.waitNs / 1e9), rate);
    }
    const release = decision.release;
    const response = await answerHolding(handler, release, request, env, ctx);
    return h.heldResponse(request, response, release, rate);
  };
  guarded.stats = () => ({ store: admission.stats() });
  return guarded;
}
