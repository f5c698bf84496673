// The Worker for the guard tests inside workerd: `/cases` runs the
// host-neutral guard cases; every other path is served by one guarded
// handler keyed (by default) on `CF-Connecting-IP`, whose body streams a tick
// every 100 ms until the client goes away (or 30 s pass, so nothing can hang).
import * as weir from 'weir-limiter';
import { runAll, summary } from './tests/conformance/index.js';
import { guardCases } from './tests/guard/cases.js';

let guarded;

function served() {
  guarded ??= weir.guard((request) => {
    let timer;
    let ticks = 0;
    const body = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(`hello ${request.headers.get('CF-Connecting-IP')}\n`));
        // A slow stream: a tick every 100 ms, closed after 30 s at the latest.
        timer = setInterval(() => {
          ticks += 1;
          if (ticks === 300) {
            clearInterval(timer);
            c.close();
          } else {
            c.enqueue(new TextEncoder().encode('.'));
          }
        }, 100);
      },
      cancel() {
        clearInterval(timer);
      },
    });
    return new Response(body, { headers: { 'content-type': 'text/plain' } });
  }, { perKey: 1, perKeyRate: { limit: 1000, interval: 60_000 } });
  return guarded;
}

let lateGuarded;

/** Answers 200 ms late (the client may be gone by then), in several ways. */
function late() {
  lateGuarded ??= weir.guard(async (request) => {
    await new Promise((r) => setTimeout(r, 200));
    const { pathname } = new URL(request.url);
    if (pathname === '/late/throw') throw new Error('handler failed after the client left');
    if (pathname === '/late/empty') return new Response(null, { status: 204 });
    if (pathname === '/late/stream') return new Response(new ReadableStream({ pull(c) { c.enqueue(new Uint8Array(64 << 10)); } }));
    return new Response('late');
  }, { concurrency: 2, key: () => 'all' });
  return lateGuarded;
}

export default {
  async fetch(request, env, ctx) {
    const { pathname } = new URL(request.url);
    if (pathname === '/cases') {
      const results = await runAll(weir, guardCases);
      console.log(`workerd guard: ${summary(results)}`);
      return Response.json(results);
    }
    if (pathname === '/stats') return Response.json(served().stats());
    if (pathname === '/late-stats') return Response.json(late().stats());
    if (pathname.startsWith('/late')) return late()(request, env, ctx);
    return served()(request, env, ctx);
  },
};
