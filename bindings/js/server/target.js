// The local target server: the "Hello, World! after a random delay" server of
// the seed scenario, plus path-driven modes for tests. It listens on 127.0.0.1
// only and keeps bounded memory: counters, fixed-size rings, a capped host map.
//
//   import { startTarget } from 'weir-limiter/server';
//   const target = await startTarget({ delayMs: [0, 300] });
//   // … fetch(target.url + '/anything') …
//   target.stats().hosts['127.0.0.1:1234'].maxConcurrent;
//   await target.close();
//
// Paths (anything else answers "Hello, World!" after a random delay):
//   /status/<code>[?retry-after=S | ?retry-after-date=S]  that status (e.g. 429, 503)
//   /slow-body?ms=M&chunks=C       headers at once, then C chunks over M ms
//   /reset                         destroys the socket without answering
//   /bytes?n=N                     N bytes of body
//   /delay?ms=M                    "Hello, World!" after exactly M ms
//   /echo                          { method, url, headers } as JSON
//   /__weir/stats                  this server's stats() as JSON, without timestamps
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const HELLO = Buffer.from('Hello, World!');
const DEFAULTS = {
  port: 0,
  host: '127.0.0.1',
  delayMs: [0, 300],
  capacity: Infinity,
  status429Rate: 0,
  retryAfter: 1,
  timestampRing: 4096,
  secondsRing: 600,
  maxHosts: 1024,
};
const OTHER_HOSTS = '(other)';

/** Per-host counters; every field is bounded. */
class HostStats {
  constructor(timestampRing, secondsRing) {
    this.current = 0;
    this.max = 0;
    this.total = 0;
    this.statuses = new Map();
    this.stamps = new Float64Array(timestampRing);
    this.stampCount = 0;
    this.secondOf = new Int32Array(secondsRing).fill(-1);
    this.countOf = new Uint32Array(secondsRing);
  }

  arrive(at) {
    this.current += 1;
    if (this.current > this.max) this.max = this.current;
    this.total += 1;
    this.stamps[this.stampCount % this.stamps.length] = at;
    this.stampCount += 1;
    const second = Math.floor(at / 1000);
    const slot = second % this.secondOf.length;
    if (this.secondOf[slot] !== second) {
      this.secondOf[slot] = second;
      this.countOf[slot] = 0;
    }
    this.countOf[slot] += 1;
  }

  leave(status) {
    this.current -= 1;
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
  }

  snapshot() {
    const n = Math.min(this.stampCount, this.stamps.length);
    const timestamps = new Array(n);
    const first = this.stampCount - n;
    for (let i = 0; i < n; i++) timestamps[i] = this.stamps[(first + i) % this.stamps.length];
    const perSecond = [];
    for (let slot = 0; slot < this.secondOf.length; slot++) {
      if (this.secondOf[slot] >= 0) perSecond.push([this.secondOf[slot], this.countOf[slot]]);
    }
    perSecond.sort((a, b) => a[0] - b[0]);
    return {
      current: this.current,
      maxConcurrent: this.max,
      total: this.total,
      statuses: Object.fromEntries(this.statuses),
      perSecond,
      timestamps,
      timestampsDropped: first,
    };
  }
}

/**
 * The largest number of arrivals inside any window of `windowMs` (sliding),
 * from a sorted list of arrival timestamps in ms.
 */
export function maxInWindow(timestamps, windowMs) {
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < timestamps.length; hi++) {
    while (timestamps[hi] - timestamps[lo] >= windowMs) lo += 1;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

function checkOptions(opts) {
  const known = Object.keys(DEFAULTS);
  for (const name of Object.keys(opts)) {
    if (!known.includes(name)) {
      throw new TypeError(`startTarget: unknown option '${name}' (expected one of: ${known.join(', ')})`);
    }
  }
  const o = { ...DEFAULTS, ...opts };
  const d = o.delayMs;
  if (typeof d === 'number') o.delayMs = [d, d];
  if (!Array.isArray(o.delayMs) || o.delayMs.length !== 2 || !(o.delayMs[0] >= 0) || !(o.delayMs[1] >= o.delayMs[0])) {
    throw new RangeError(`startTarget: option 'delayMs' must be [min, max] with 0 <= min <= max, got ${JSON.stringify(d)}`);
  }
  const c = o.capacity;
  if (c !== Infinity && !(Number.isInteger(c) && c >= 1)) {
    throw new RangeError(`startTarget: option 'capacity' must be a whole number >= 1 or Infinity, got ${c}`);
  }
  const r = o.status429Rate;
  if (typeof r === 'number') {
    if (!(r >= 0 && r <= 1)) throw new RangeError(`startTarget: option 'status429Rate' must be within [0, 1], got ${r}`);
  } else if (typeof r !== 'function' && (r === null || typeof r !== 'object')) {
    throw new TypeError("startTarget: option 'status429Rate' must be a number, { host: rate } or (host) => rate");
  }
  if (o.host !== '127.0.0.1' && o.host !== 'localhost' && o.host !== '::1') {
    throw new RangeError(`startTarget: option 'host' must be a loopback address, got ${o.host}`);
  }
  return o;
}

function rateFor(status429Rate, host) {
  if (typeof status429Rate === 'number') return status429Rate;
  if (typeof status429Rate === 'function') return Number(status429Rate(host)) || 0;
  return Number(status429Rate[host]) || 0;
}

function intParam(query, name, fallback, max = Number.MAX_SAFE_INTEGER) {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) return fallback;
  return Math.min(Math.floor(n), max);
}

/**
 * Start the target server.
 *
 * @param {object} [options]
 * @param {number} [options.port=0]            0 = any free port
 * @param {number|[number, number]} [options.delayMs=[0, 300]]  random delay range (ms)
 * @param {number} [options.capacity=Infinity]  a knee: default-path requests are
 *   served (their delay runs) at most this many at once, the rest wait FIFO, so
 *   latency is flat up to `capacity` in flight and grows as `delay · n / capacity` beyond
 * @param {number|object|Function} [options.status429Rate=0]  share of default-path
 *   requests answered 429 with `Retry-After`; a number, `{ host: rate }` or `(host) => rate`
 * @param {number} [options.retryAfter=1]      Retry-After seconds for those 429s
 * @returns {Promise<{ url: string, port: number, stats(): object, reset(): void, close(): Promise<void> }>}
 */
export async function startTarget(options = {}) {
  const o = checkOptions(options);
  const [minDelay, maxDelay] = o.delayMs;
  const started = performance.now();
  let hosts = new Map();
  let totals = { total: 0, current: 0, maxConcurrent: 0 };
  // The capacity knee: requests in service, and the FIFO of those waiting
  // (each a function that starts its service; cancelled ones are skipped).
  let serving = 0;
  const waiting = [];
  const serveNext = () => {
    while (serving < o.capacity && waiting.length > 0) {
      const start = waiting.shift();
      if (start.cancelled) continue;
      serving += 1;
      start();
    }
  };

  const hostStats = (host) => {
    let h = hosts.get(host);
    if (h) return h;
    if (hosts.size >= o.maxHosts) host = OTHER_HOSTS;
    h = hosts.get(host);
    if (!h) {
      h = new HostStats(o.timestampRing, o.secondsRing);
      hosts.set(host, h);
    }
    return h;
  };

  const statsNow = (withTimestamps) => {
    const byHost = {};
    for (const [host, h] of hosts) {
      const snap = h.snapshot();
      if (!withTimestamps) delete snap.timestamps;
      byHost[host] = snap;
    }
    return {
      total: totals.total,
      current: totals.current,
      maxConcurrent: totals.maxConcurrent,
      uptimeMs: performance.now() - started,
      hosts: byHost,
    };
  };

  const server = http.createServer((req, res) => {
    const at = performance.now() - started;
    const host = String(req.headers.host ?? '');
    const h = hostStats(host);
    const t = totals;
    h.arrive(at);
    t.total += 1;
    t.current += 1;
    if (t.current > t.maxConcurrent) t.maxConcurrent = t.current;
    let timer;
    let interval;
    res.on('close', () => {
      clearTimeout(timer);
      clearInterval(interval);
      h.leave(res.headersSent ? res.statusCode : 0);
      t.current -= 1;
    });

    const q = req.url.indexOf('?');
    const path = q < 0 ? req.url : req.url.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : req.url.slice(q + 1));
    req.resume();

    const hello = () => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': HELLO.length });
      res.end(HELLO);
    };

    if (path.startsWith('/status/')) {
      const code = Number(path.slice(8));
      const headers = { 'content-type': 'text/plain' };
      if (query.has('retry-after')) headers['retry-after'] = query.get('retry-after');
      if (query.has('retry-after-date')) {
        const secs = Number(query.get('retry-after-date')) || 0;
        headers['retry-after'] = new Date(Date.now() + secs * 1000).toUTCString();
      }
      const valid = Number.isInteger(code) && code >= 200 && code <= 599;
      res.writeHead(valid ? code : 400, headers);
      res.end(valid ? `status ${code}` : 'bad status');
    } else if (path === '/slow-body') {
      const ms = intParam(query, 'ms', 1000, 600_000);
      const chunks = Math.max(1, intParam(query, 'chunks', 10, 100_000));
      res.writeHead(200, { 'content-type': 'text/plain' });
      let sent = 0;
      interval = setInterval(() => {
        sent += 1;
        if (sent >= chunks) {
          clearInterval(interval);
          res.end('.');
        } else {
          res.write('.');
        }
      }, ms / chunks);
    } else if (path === '/reset') {
      req.socket.destroy();
    } else if (path === '/bytes') {
      const n = intParam(query, 'n', 0, 1 << 30);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n });
      const block = Buffer.alloc(Math.min(n, 65536), 0x61);
      let left = n;
      const pump = () => {
        while (left > 0) {
          const piece = left >= block.length ? block : block.subarray(0, left);
          left -= piece.length;
          if (!res.write(piece)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    } else if (path === '/delay') {
      timer = setTimeout(hello, intParam(query, 'ms', 0, 600_000));
    } else if (path === '/__weir/stats') {
      const body = JSON.stringify(statsNow(false));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    } else if (path === '/echo') {
      const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    } else {
      const r = rateFor(o.status429Rate, host);
      if (r > 0 && Math.random() < r) {
        res.writeHead(429, { 'content-type': 'text/plain', 'retry-after': String(o.retryAfter) });
        res.end('Too Many Requests');
        return;
      }
      const delay = minDelay + Math.random() * (maxDelay - minDelay);
      if (o.capacity === Infinity) {
        if (delay <= 0) hello();
        else timer = setTimeout(hello, delay);
        return;
      }
      // Served in turn: the slot is freed when the answer is sent, or when
      // the client goes away first.
      let inService = false;
      const finish = () => {
        if (!inService) return;
        inService = false;
        serving -= 1;
        serveNext();
      };
      const start = () => {
        inService = true;
        timer = setTimeout(() => {
          hello();
          finish();
        }, delay);
      };
      res.on('close', () => {
        start.cancelled = true;
        finish();
      });
      waiting.push(start);
      serveNext();
    }
  });
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;
  server.requestTimeout = 0;
  server.maxRequestsPerSocket = 0;

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: o.port, host: o.host, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = server.address().port;
  const hostPart = o.host.includes(':') ? `[${o.host}]` : o.host;

  return {
    url: `http://${hostPart}:${port}`,
    port,
    /** Counters since start (or the last reset): totals and per Host header. */
    stats() {
      return statsNow(true);
    },
    /** Forget all counters (requests in flight finish uncounted). */
    reset() {
      hosts = new Map();
      totals = { total: 0, current: 0, maxConcurrent: 0 };
    },
    /** Stop listening and drop every connection. */
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
