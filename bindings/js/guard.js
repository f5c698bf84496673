// `guard(handler, options)`: shed load with 429 (or 503) + Retry-After
// instead of queueing. The guard maps a request to a key, asks the Rust core
// (a `RawLimiter` under the core's guard rule, `weir::guard`) whether to
// admit it, wait briefly or shed it, and maps the answer to a Response.
//
// Guarantees: no limiting decision is made here (admission, wait-or-shed and
// the Retry-After seconds are the core's); a shed request is answered at once
// (no Request built on Node's default key); the permit is held until the
// response body has streamed, errored or been cancelled, or the client went
// away; a handler that throws releases at once. No host API: it serves
// workerd, Deno, Bun, service workers and (through `toNodeHandler`) Node.
import { RawLimiter, GUARD, statsOf } from './boundary.js';
import { optionChecks } from './options.js';
import { parkingFor, parkWithin } from './parking.js';
import { releasingBody } from './held-body.js';

const GUARD_OPTIONS = [
  'concurrency', 'perKey', 'rate', 'perKeyRate', 'key', 'keyHeader', 'queue', 'status',
  'onReject', 'busyRetryAfter', 'store', 'onStoreError', 'localShare',
];
const NS_PER_S = 1e9;
const INNER = Symbol('weir.guard.inner');
const FAST = Symbol('weir.guard.fast');
const onWorkerd = typeof navigator !== 'undefined' && navigator.userAgent === 'Cloudflare-Workers';

// ---------------------------------------------------------------- validation

const { whole, cap, duration, quotas } = optionChecks('guard: ');

function queueOptions(value) {
  if (value === undefined || value === null || value === false) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError("guard: option 'queue' must be an object { max, timeout }");
  }
  for (const k of Object.keys(value)) {
    if (k !== 'max' && k !== 'timeout') throw new TypeError(`guard: unknown option 'queue.${k}'`);
  }
  return {
    max: whole(value.max, 'queue.max'),
    timeout: duration(value.timeout, 'queue.timeout'),
  };
}

function checkOptions(opts) {
  if (opts === undefined || opts === null) {
    throw new TypeError('guard: options are required (concurrency, perKey, rate or perKeyRate)');
  }
  if (typeof opts !== 'object' || Array.isArray(opts)) {
    throw new TypeError('guard: options must be an object');
  }
  for (const name of Object.keys(opts)) {
    if (!GUARD_OPTIONS.includes(name)) {
      throw new TypeError(`guard: unknown option '${name}' (expected one of: ${GUARD_OPTIONS.join(', ')})`);
    }
  }
  const o = {
    concurrency: cap(opts.concurrency, 'concurrency'),
    perKey: cap(opts.perKey, 'perKey'),
    rate: quotas(opts.rate, 'rate'),
    perKeyRate: quotas(opts.perKeyRate, 'perKeyRate'),
    queue: queueOptions(opts.queue),
    status: opts.status === undefined ? 429 : opts.status,
    key: opts.key,
    keyHeader: opts.keyHeader,
    onReject: opts.onReject,
    busyRetryAfter: opts.busyRetryAfter === undefined ? 1 : whole(opts.busyRetryAfter, 'busyRetryAfter', 0),
    store: opts.store,
    onStoreError: opts.onStoreError,
    localShare: opts.localShare,
  };
  if (o.store !== undefined && typeof o.store?.guard !== 'function') {
    throw new TypeError("guard: option 'store' must be a store, e.g. new RedisStore(client) from 'weir-limiter/redis'");
  }
  if (o.status !== 429 && o.status !== 503) {
    throw new RangeError(`guard: option 'status' must be 429 or 503, got ${String(o.status)}`);
  }
  if (o.key !== undefined && typeof o.key !== 'function') {
    throw new TypeError("guard: option 'key' must be a function (request, env, ctx) => string");
  }
  if (o.keyHeader !== undefined && (typeof o.keyHeader !== 'string' || o.keyHeader === '')) {
    throw new TypeError("guard: option 'keyHeader' must be a non-empty header name");
  }
  if (o.onReject !== undefined && typeof o.onReject !== 'function') {
    throw new TypeError("guard: option 'onReject' must be a function (request, info) => Response | void");
  }
  if (o.concurrency === undefined && o.perKey === undefined && !o.rate.length && !o.perKeyRate.length) {
    throw new TypeError("guard: set at least one of 'concurrency', 'perKey', 'rate', 'perKeyRate'");
  }
  return o;
}

// --------------------------------------------------------------------- keys

/**
 * The client address the host exposes: a header named by `keyHeader` (a
 * proxy's), else Deno's `info.remoteAddr` / the Node adapter's (2nd arg),
 * Bun's `server.requestIP(request)`, workerd's `CF-Connecting-IP`; else ''
 * (every request shares one key).
 */
function defaultKey(keyHeader) {
  return (request, env) => {
    if (keyHeader !== undefined) {
      const named = request.headers.get(keyHeader);
      if (named !== null) return named;
    }
    if (env != null) {
      const hostname = env.remoteAddr?.hostname;
      if (typeof hostname === 'string') return hostname;
      if (typeof env.requestIP === 'function') {
        const address = env.requestIP(request)?.address;
        if (typeof address === 'string') return address;
      }
    }
    if (onWorkerd) return request.headers.get('CF-Connecting-IP') ?? '';
    return '';
  };
}

/**
 * `defaultKey` for a Node `IncomingMessage`, read without building a
 * Request: the `keyHeader` (Node joins repeated headers with ', ' as
 * `Headers#get` does), else the socket's address.
 */
function nodeDefaultKey(keyHeader) {
  const name = keyHeader?.toLowerCase();
  return (req) => {
    if (name !== undefined) {
      const named = req.headers[name];
      if (typeof named === 'string') return named;
      if (Array.isArray(named)) return named.join(', ');
    }
    return req.socket?.remoteAddress ?? '';
  };
}

function keyString(key) {
  if (typeof key === 'string') return key;
  if (typeof key === 'number' || typeof key === 'bigint') return String(key);
  if (key === undefined || key === null) return '';
  throw new TypeError(`guard: the 'key' function must return a string, got ${typeof key}`);
}

// ---------------------------------------------------------------- responses

/** `RateLimit-*` header values from the core's figures (laid out as `GUARD.figures`). */
function rateHeaders(figures) {
  const F = GUARD.figures;
  const interval = figures[F.intervalMs] / 1000;
  const headers = [
    ['RateLimit-Limit', String(figures[F.limit])],
    ['RateLimit-Remaining', String(figures[F.remaining])],
    ['RateLimit-Reset', String(Math.ceil(figures[F.resetNs] / NS_PER_S))],
  ];
  if (Number.isInteger(interval)) headers.push(['RateLimit-Policy', `${figures[F.limit]};w=${interval}`]);
  return headers;
}

/**
 * A shed request's answer as plain data — `{ status, headers, body }` — so
 * the Node adapter can write it without building a Response at all.
 */
function shedAnswer(status, retryAfter, rate) {
  const headers = {
    'retry-after': String(retryAfter),
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
  };
  if (rate) for (const [name, value] of rate) headers[name.toLowerCase()] = value;
  const text = status === 429 ? 'Too Many Requests' : 'Service Unavailable';
  return { status, headers, body: `${text}: retry after ${retryAfter} s\n` };
}

function shedResponse(shed) {
  return new Response(shed.body, { status: shed.status, headers: shed.headers });
}

/**
 * The handler's answer to an admitted request; when it throws or answers
 * anything but a Response, `release` runs before the error goes on.
 */
export async function answerHolding(handler, release, request, env, ctx) {
  let response;
  try {
    response = await handler(request, env, ctx);
  } catch (error) {
    release();
    throw error;
  }
  if (!(response instanceof Response)) {
    release();
    throw new TypeError('guard: the handler must return a Response');
  }
  return response;
}

function withHeaders(response, rate) {
  if (!rate) return response.headers;
  const headers = new Headers(response.headers);
  for (const [name, value] of rate) headers.set(name, value);
  return headers;
}

/**
 * The admitted handler's `response` as the guard answers it: with the `rate`
 * headers, and `release` called once its body has streamed, errored or been
 * cancelled, or the client went away (`request.signal`, where the host wires
 * it, e.g. Deno; workerd cancels the body instead, at its next write after
 * the disconnect). Without a body, released now.
 */
function heldResponse(request, response, release, rate) {
  if (response.body === null) {
    release();
    if (!rate) return response;
  }
  let body = null;
  if (response.body !== null) {
    const signal = request?.signal;
    const hold = { end: release, reader: null };
    if (signal && typeof signal.addEventListener === 'function' && !signal.aborted) {
      const onAbort = () => {
        release();
        hold.reader?.cancel(signal.reason).catch(() => {});
      };
      signal.addEventListener('abort', onAbort, { once: true });
      hold.end = () => {
        signal.removeEventListener('abort', onAbort);
        release();
      };
    }
    body = releasingBody(response.body, hold);
  }
  return new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: withHeaders(response, rate),
  });
}

// --------------------------------------------------------------------- guard

/**
 * Wrap a fetch-style handler `(request, env?, ctx?) => Response`: over the
 * in-flight caps or a rate quota for the request's key it answers `status`
 * (429) with `Retry-After` at once (or after `queue.timeout` ms at most).
 * The permit is held until the response body has been streamed (or errors,
 * or is cancelled); a handler that throws releases at once.
 */
export function guard(handler, opts) {
  if (typeof handler !== 'function') throw new TypeError("guard: 'handler' must be a function");
  const o = checkOptions(opts);
  if (o.store !== undefined) {
    // Shared limits (redis/guard.js): the store decides, these helpers answer.
    const helpers = { defaultKey, keyString, shedAnswer, shedResponse, rateHeaders, heldResponse };
    return o.store.guard(handler, o, { ...helpers, localGuard: (local) => guard(handler, local) });
  }
  const raw = new RawLimiter(o.concurrency, o.perKey, o.rate, o.perKeyRate, o.queue?.max);
  // The core's rule for a denied request: a bounded wait (with `queue`) or
  // shed now, and the Retry-After of a shed one.
  raw.setGuard(o.queue?.timeout, o.busyRetryAfter * 1000);
  const hasRate = o.rate.length > 0 || o.perKeyRate.length > 0;
  const F = GUARD.figures;
  // The key's rate figures (with quotas) and a shed request's reason and
  // Retry-After, written by the core in one call.
  const figures = new Float64Array(F.length);
  const keyOf = o.key ?? defaultKey(o.keyHeader);
  const parking = parkingFor(raw);

  const releaser = (id) => {
    let held = true;
    return () => {
      if (held) {
        held = false;
        raw.release(id);
      }
    };
  };

  /** `{ response }` from `onReject`, else `{ shed }` (plain data). */
  const reject = async (request, key, rate) => {
    const reason = GUARD.reasons[figures[F.reason]];
    const retryAfter = figures[F.retryAfter];
    if (o.onReject) {
      const custom = await o.onReject(request, { key, reason, retryAfter, status: o.status });
      if (custom instanceof Response) return { response: custom, release: null, rate: null, shed: null };
    }
    return { response: null, release: null, rate: null, shed: shedAnswer(o.status, retryAfter, rate) };
  };

  /**
   * The shed answer for a request the core just shed (`GUARD.shed`), as
   * plain data, when no `onReject` hook applies; else null (then `settle`
   * waits or asks the hook). Synchronous: the Node adapter writes it with no
   * await and no Request built.
   */
  const shedNow = (id) => {
    if (id !== GUARD.shed || o.onReject) return null;
    return shedAnswer(o.status, figures[F.retryAfter], hasRate ? rateHeaders(figures) : null);
  };

  /**
   * Run after `raw.admit(key)` gave `id`: `{ response, release, rate, shed }`.
   * A shed request has `shed` (plain data) or, from `onReject`, a complete
   * `response`, and no `release`. Otherwise the handler's response still
   * needs the `rate` headers and its permit released when its body is done:
   * the Node adapter streams the body itself; `guarded` wraps it instead.
   */
  const settle = async (request, env, ctx, key, id) => {
    if (id === GUARD.wait) {
      try {
        id = await parkWithin(parking, key, 1, o.queue.timeout);
      } catch (error) {
        if (error?.name !== 'QueueFullError') throw error;
        id = undefined;
      }
      // No permit (time ran out, or the queue was full): as the key stands.
      if (id === undefined) id = raw.afterWait(key, figures);
    }
    const rate = hasRate ? rateHeaders(figures) : null;
    if (id === GUARD.shed) return reject(request, key, rate);
    const release = releaser(id);
    const response = await answerHolding(handler, release, request, env, ctx);
    return { response, release, rate, shed: null };
  };

  const admitAndRun = async (request, env, ctx) => {
    let key = keyOf(request, env, ctx);
    if (key !== null && typeof key === 'object' && typeof key.then === 'function') key = await key;
    key = keyString(key);
    return settle(request, env, ctx, key, raw.admit(key, figures));
  };

  const guarded = async (request, env, ctx) => {
    let key = keyOf(request, env, ctx);
    if (key !== null && typeof key === 'object' && typeof key.then === 'function') key = await key;
    key = keyString(key);
    const id = raw.admit(key, figures);
    if (id === GUARD.shed) {
      const now = shedNow(id);
      if (now !== null) return shedResponse(now);
    }
    const { response, release, rate, shed } = await settle(request, env, ctx, key, id);
    if (shed !== null) return shedResponse(shed);
    if (release === null) return response;
    return heldResponse(request, response, release, rate);
  };

  Object.defineProperty(guarded, INNER, { value: admitAndRun });
  // For the Node adapter: the key straight from the socket (or a header)
  // when the default key function applies, so that a shed request needs no
  // Request at all.
  const nodeKey = o.key !== undefined ? null : nodeDefaultKey(o.keyHeader);
  Object.defineProperty(guarded, FAST, {
    value: { nodeKey, admit: (key) => raw.admit(key, figures), shedNow, settle },
  });
  /** `{ inFlight, queued, keys, rateKeys, permits, waiting }` of the guard's limiter now. */
  guarded.stats = () => {
    const s = statsOf(raw);
    return { inFlight: s.inFlight, queued: s.queued, keys: s.keys, rateKeys: s.rateKeys, permits: s.permits, waiting: s.waiting };
  };
  /** Forget idle per-key rate state now (it is also swept, amortised, as new keys arrive). */
  guarded.evictIdle = () => raw.evictIdle();
  return guarded;
}

// ---------------------------------------------------------------- Node adapter

/** A Node `IncomingMessage` as a fetch `Request`. */
function toRequest(req) {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name.charCodeAt(0) !== 58 /* ':' pseudo-headers (HTTP/2) */) headers.append(name, raw[i + 1]);
  }
  const host = req.headers.host ?? 'localhost';
  const scheme = req.socket?.encrypted ? 'https' : 'http';
  const init = { method: req.method, headers };
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    const chunks = req[Symbol.asyncIterator]();
    init.body = new ReadableStream({
      async pull(controller) {
        const step = await chunks.next();
        if (step.done) controller.close();
        else controller.enqueue(new Uint8Array(step.value.buffer, step.value.byteOffset, step.value.byteLength));
      },
      cancel() {
        return chunks.return?.();
      },
    });
    init.duplex = 'half';
  }
  return new Request(`${scheme}://${host}${req.url}`, init);
}

function writeShed(req, res, shed) {
  res.writeHead(shed.status, shed.headers);
  res.end(req.method === 'HEAD' ? undefined : shed.body);
}

function writeHead(res, response, rate) {
  const headers = {};
  for (const [name, value] of response.headers) {
    if (name === 'set-cookie') continue;
    headers[name] = value;
  }
  if (rate) for (const [name, value] of rate) headers[name.toLowerCase()] = value;
  const cookies = response.headers.getSetCookie?.() ?? [];
  if (cookies.length) headers['set-cookie'] = cookies;
  res.writeHead(response.status, response.statusText || undefined, headers);
}

/** Stream `body` into `res`; resolves when done; cancels the body if the client goes away. */
async function pipeBody(body, res) {
  const reader = body.getReader();
  let closed = false;
  const onClose = () => {
    if (!res.writableFinished) {
      closed = true;
      reader.cancel(new Error('client closed the connection')).catch(() => {});
    }
  };
  res.once('close', onClose);
  // The client may be gone already (before the handler answered): 'close'
  // has fired and will not fire again.
  if (res.destroyed) onClose();
  // The head goes out with the first chunk; if that is slow to come (a
  // streamed body), send the head on its own so the client sees it.
  let next = reader.read();
  let arrived = false;
  next.then(() => { arrived = true; }, () => { arrived = true; });
  const later = typeof setImmediate === 'function' ? setImmediate : (f) => setTimeout(f, 0);
  later(() => {
    if (!arrived && !res.destroyed) res.flushHeaders();
  });
  try {
    for (;;) {
      const { done, value } = await next;
      next = null;
      if (done || closed) break;
      const ok = res.write(value);
      next = reader.read();
      if (!ok && !res.destroyed) {
        await new Promise((resolve) => {
          const go = () => { res.off('drain', go); res.off('close', go); resolve(); };
          res.once('drain', go);
          res.once('close', go);
        });
      }
    }
  } catch (error) {
    closed = true; // a truncated body must not look complete: the caller destroys `res`
    throw error;
  } finally {
    res.off('close', onClose);
    if (!closed) res.end();
  }
}

/**
 * Adapt a fetch-style handler (guarded or not) to
 * `http.createServer((req, res) => …)`: the request becomes a `Request`
 * (2nd argument `{ remoteAddr: { hostname, port, transport } }`, as on
 * Deno), the `Response` is streamed back, and a guard's permit is released
 * when the body has been written or the connection closes.
 */
export function toNodeHandler(handler) {
  if (typeof handler !== 'function') throw new TypeError("toNodeHandler: 'handler' must be a function");
  const inner = handler[INNER];
  const fast = handler[FAST];
  const nodeKey = fast?.nodeKey ?? null;
  return (req, res) => {
    // The shed path: key from the socket, one wasm call, a ready answer, no
    // Request and no await.
    let key;
    let id;
    if (nodeKey !== null) {
      key = nodeKey(req);
      id = fast.admit(key);
      if (id === GUARD.shed) {
        const shed = fast.shedNow(id);
        if (shed !== null) {
          writeShed(req, res, shed);
          return;
        }
      }
    }
    const info = {
      remoteAddr: { hostname: req.socket?.remoteAddress ?? '', port: req.socket?.remotePort ?? 0, transport: 'tcp' },
    };
    let release = null;
    const run = async () => {
      const request = toRequest(req);
      let response;
      let rate = null;
      if (inner) {
        let shed;
        ({ response, release, rate, shed } = await (nodeKey !== null
          ? fast.settle(request, info, undefined, key, id)
          : inner(request, info)));
        if (shed !== null) {
          writeShed(req, res, shed);
          return;
        }
      } else {
        response = await handler(request, info);
      }
      writeHead(res, response, rate);
      if (response.body === null || req.method === 'HEAD') {
        if (response.body !== null) await response.body.cancel();
        res.end();
      } else {
        await pipeBody(response.body, res);
      }
    };
    run().then(
      () => release?.(),
      (error) => {
        release?.();
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
          res.end('Internal Server Error\n');
        } else {
          res.destroy(error);
        }
      },
    );
  };
}

/** `toNodeHandler(guard(handler, options))`. */
guard.node = (handler, opts) => toNodeHandler(guard(handler, opts));
