// One simulated host as a real HTTP server on 127.0.0.1 (its own port, so
// the browser and `limiter.fetch` see a host of its own: key 127.0.0.1:port).
// Every rule is the HostModel's; this file only answers on its say-so, with
// the CORS headers a page on another port needs to read the answer and its
// Retry-After.
//
// Invariants: the model (and `totals`, shared by every host of one www
// server) sees every request exactly once on arrival and once on leaving
// (answered or the socket closed); it listens on loopback only.
import http from 'node:http';
import { HostModel } from '../shared/host-model.js';

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'retry-after',
};
const BODY = Buffer.from('Hello, World!');

/**
 * Start `profile` on a free port of 127.0.0.1.
 * @param {import('../shared/profiles.js').Profile} profile
 * @param {() => number} clock  ms, shared by every host of one www server
 * @param {() => { current: number, maxConcurrent: number }} totalsNow  in flight at all
 *   hosts together (the object of the moment: a request leaves the one it arrived in)
 */
export async function startHost(profile, clock, totalsNow) {
  const model = new HostModel(profile);
  const server = http.createServer((req, res) => {
    req.resume();
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { ...CORS, 'access-control-allow-methods': 'GET, HEAD', 'access-control-max-age': '600' });
      res.end();
      return;
    }
    const answer = model.arrive(clock());
    const counted = totalsNow();
    counted.current += 1;
    if (counted.current > counted.maxConcurrent) counted.maxConcurrent = counted.current;
    let timer;
    let left = false;
    const leave = (status) => {
      if (left) return;
      left = true;
      clearTimeout(timer);
      model.leave(status, answer.epoch);
      counted.current -= 1;
    };
    res.on('close', () => leave(res.headersSent ? res.statusCode : 0));
    const reply = () => {
      if (answer.status === 429) {
        res.writeHead(429, { ...CORS, 'content-type': 'text/plain', 'retry-after': String(answer.retryAfter) });
        res.end('Too Many Requests');
      } else if (answer.status === 503) {
        res.writeHead(503, { ...CORS, 'content-type': 'text/plain' });
        res.end('Service Unavailable');
      } else {
        res.writeHead(200, { ...CORS, 'content-type': 'text/plain', 'content-length': BODY.length });
        res.end(BODY);
      }
    };
    if (answer.delayMs > 0) timer = setTimeout(reply, answer.delayMs);
    else reply();
  });
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;
  server.requestTimeout = 0;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', backlog: 1024 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    name: profile.name,
    about: profile.about,
    url: `http://127.0.0.1:${server.address().port}`,
    model,
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
