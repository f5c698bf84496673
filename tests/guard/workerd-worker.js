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

export default {
  async fetch(request, env, ctx) {
    const { pathname } = new URL(request.url);
    if (pathname === '/cases') {
      const results = await runAll(weir, guardCases);
      console.log(`workerd guard: ${summary(results)}`);
      return Response.json(results);
    }
    if (pathname === '/stats') return Response.json(served().stats());
    return served()(request, env, ctx);
  },
};
