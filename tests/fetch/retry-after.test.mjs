// A Retry-After the library does not retry still cools the whole host, and
// after a cooldown the host is eased back into (not every queued request in
// the same instant). Against a server that rejects as nginx `limit_req`
// with `burst=0` does: a request less than 1/rate after the last accepted
// one gets 429 + `Retry-After: 1`.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Limiter } from 'weir-limiter';

/** A `limit_req rate=<rate>r/s burst=0`-like server; records arrivals. */
async function limitReq(rate) {
  const log = { arrivals: [], rejected: [], accepted: 0 };
  let last = -Infinity;
  const server = http.createServer((req, res) => {
    const now = performance.now();
    log.arrivals.push(now);
    if (now - last < 1000 / rate) {
      log.rejected.push(now);
      res.writeHead(429, { 'retry-after': '1', 'content-type': 'text/plain' });
      res.end('Too Many Requests\n');
      return;
    }
    last = now;
    log.accepted += 1;
    res.end(`ok ${req.url}\n`);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, log, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** `fetch` recording when each request goes out and when each 429 comes back. */
function recordingFetch() {
  const seen = { sent: [], got429: [] };
  const recorded = async (input, init) => {
    seen.sent.push(performance.now());
    const response = await fetch(input, init);
    if (response.status === 429) seen.got429.push(performance.now());
    return response;
  };
  return { seen, fetch: recorded };
}

/** Requests sent after a 429 came back and inside its 1 s cooldown (50 ms slack). */
function sentInCooldown(seen) {
  return seen.sent.filter((t) => seen.got429.some((g) => t > g && t < g + 950));
}

const servers = [];
after(() => Promise.all(servers.map((s) => s.close())));

test('a 429 + Retry-After that is not retried (attempts spent) still pauses the host', async () => {
  const s = await limitReq(10);
  servers.push(s);
  const limiter = new Limiter({ concurrency: 10, perKey: 10 });
  const client = recordingFetch();
  const results = await Promise.all(Array.from({ length: 15 }, (_, i) =>
    limiter.fetch(`${s.url}/${i}`, { retry: { attempts: 1 }, fetch: client.fetch }).then(async (r) => { await r.text(); return r.status; })));
  assert.ok(results.includes(429), 'some requests were rejected and not retried');
  assert.deepEqual(sentInCooldown(client.seen), [], 'no request went out inside a cooldown the host declared');
});

test('20 URLs at concurrency 10 with retries complete against limit_req burst=0 without exhausting their attempts', async () => {
  const s = await limitReq(10);
  servers.push(s);
  const limiter = new Limiter({ concurrency: 10, perKey: 10 });
  const attempts = 5;
  const client = recordingFetch();
  const statuses = await Promise.all(Array.from({ length: 20 }, (_, i) =>
    limiter.fetch(`${s.url}/${i}`, { fetch: client.fetch, retry: { attempts, budget: { ratio: 1, min: 1000, window: 10_000 } } })
      .then(async (r) => { await r.text(); return [r.status, r.attempts]; })));
  assert.deepEqual(statuses.filter(([status]) => status !== 200), [], 'every URL answered 200');
  assert.ok(statuses.every(([, n]) => n < attempts), `attempts used: ${statuses.map(([, n]) => n)}`);
  assert.deepEqual(sentInCooldown(client.seen), []);
  assert.ok(s.log.rejected.length <= 12, `${s.log.rejected.length} rejections`);
});
