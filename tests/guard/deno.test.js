// Deno: the host-neutral guard cases, then the guard behind a real
// `Deno.serve` on 127.0.0.1 (the client address from `info.remoteAddr`).
// Run with `deno test --allow-read --allow-net=127.0.0.1`.
import { runCase } from '../conformance/index.js';
import { resolveExport } from '../hosts/resolve.js';
import { guardCases } from './cases.js';

const pkg = JSON.parse(Deno.readTextFileSync(new URL('../../package.json', import.meta.url)));
const entry = resolveExport(pkg, ['deno', 'import']);
const weir = await import(new URL(`../../${entry}`, import.meta.url).href);

for (const c of guardCases) {
  Deno.test(c.name, async () => {
    const result = await runCase(c, weir);
    if (!result.ok) throw new Error(result.error);
  });
}

function check(ok, message) {
  if (!ok) throw new Error(message);
}

Deno.test('deno: Deno.serve + guard — cap per client address, 429 + Retry-After, release after the body', async () => {
  let running = 0;
  let peak = 0;
  const streams = [];
  const handler = weir.guard((request, info) => {
    running += 1;
    peak = Math.max(peak, running);
    let controller;
    streams.push({ hostname: info.remoteAddr.hostname, close: () => controller.close() });
    return new Response(new ReadableStream({
      start(c) { controller = c; c.enqueue(new TextEncoder().encode('streamed ')); },
      cancel() { running -= 1; },
    }));
  }, { perKey: 2, perKeyRate: { limit: 50, interval: 1000 } });
  const ac = new AbortController();
  const server = Deno.serve({ hostname: '127.0.0.1', port: 0, signal: ac.signal, onListen() {} }, handler);
  const url = `http://127.0.0.1:${server.addr.port}/`;
  try {
    const a = await fetch(url);
    const b = await fetch(url);
    check(a.status === 200 && b.status === 200, `admitted: ${a.status} ${b.status}`);
    check(a.headers.get('ratelimit-limit') === '50', 'RateLimit-Limit');
    check(handler.stats().inFlight === 2, `in flight while streaming: ${handler.stats().inFlight}`);
    check(streams.every((s) => s.hostname === '127.0.0.1'), 'keyed by info.remoteAddr');
    const shed = await fetch(url);
    check(shed.status === 429, `third from the same address: ${shed.status}`);
    check(shed.headers.get('retry-after') === '1', `Retry-After: ${shed.headers.get('retry-after')}`);
    check((await shed.text()).startsWith('Too Many Requests'), 'body');
    // Finish one body: its permit comes back.
    streams[0].close();
    check((await a.text()) === 'streamed ', 'body a');
    for (let i = 0; i < 100 && handler.stats().inFlight !== 1; i++) await new Promise((r) => setTimeout(r, 10));
    check(handler.stats().inFlight === 1, `after one body ended: ${handler.stats().inFlight}`);
    // The client walks away from the other: Deno cancels the body, the permit returns.
    await b.body.cancel();
    for (let i = 0; i < 200 && handler.stats().inFlight !== 0; i++) await new Promise((r) => setTimeout(r, 10));
    check(handler.stats().inFlight === 0, `after the client cancelled: ${handler.stats().inFlight}`);
    check(peak === 2, `peak ${peak}`);
  } finally {
    ac.abort();
    await server.finished;
  }
});

Deno.test('deno: a client that hangs up before the answer never leaks a permit, however the response ends', async () => {
  const gone = [];
  const handler = weir.guard(async (request) => {
    await new Promise((resolve) => gone.push(resolve));
    const path = new URL(request.url).pathname;
    if (path === '/throw') throw new Error('handler failed after the client left');
    if (path === '/empty') return new Response(null, { status: 204 });
    if (path === '/stream') return new Response(new ReadableStream({ pull(c) { c.enqueue(new Uint8Array(64 << 10)); } }));
    return new Response('late');
  }, { concurrency: 2 });
  const ac = new AbortController();
  const server = Deno.serve({ hostname: '127.0.0.1', port: 0, signal: ac.signal, onListen() {}, onError: () => new Response('error', { status: 500 }) }, handler);
  const port = server.addr.port;
  const settled = async (what) => {
    for (let i = 0; i < 500 && handler.stats().inFlight !== 0; i++) await new Promise((r) => setTimeout(r, 10));
    check(handler.stats().inFlight === 0, `${what}: inFlight ${handler.stats().inFlight}`);
  };
  try {
    for (const path of ['/', '/empty', '/throw', '/stream']) {
      for (let i = 0; i < 2; i++) {
        const conn = await Deno.connect({ hostname: '127.0.0.1', port });
        await conn.write(new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`));
        await new Promise((r) => setTimeout(r, 30));
        conn.close();
      }
      await new Promise((r) => setTimeout(r, 30));
      for (const release of gone.splice(0)) release();
      await settled(path);
    }
    const res = fetch(`http://127.0.0.1:${port}/`);
    await new Promise((r) => setTimeout(r, 30));
    for (const release of gone.splice(0)) release();
    check((await (await res).text()) === 'late', 'still serving');
  } finally {
    ac.abort();
    await server.finished;
  }
});
