// The server behind `npm run www`: the simulated hosts (one HTTP server each,
// see host-server.js) and the page, on 127.0.0.1.
//
//   import { startWww } from './www/server/www.js';
//   const www = await startWww();       // www.url → open it in a browser
//   www.stats().hosts.limited.cooldownArrivals;
//   await www.close();
//
// Page server routes:
//   /                     www/index.html;  /style.css, /app/*, /shared/*  from www/
//   /bindings/js/*        the package's JS layer (the page imports its browser entry)
//   /js/cli/*             the CLI's pure helpers (rate parsing, histogram)
//   GET  /api/hosts       [{ name, about, url }]
//   GET  /api/stats       { now, total: { current, maxConcurrent }, hosts: { name: HostModel#stats() } }
//                         (what the hosts saw; `total` = in flight at all hosts together)
//   POST /api/reset       forget every host's counters and cooldowns
//
// Invariants: loopback only; only files under www/ (index.html, style.css,
// app/, shared/), bindings/js/ and js/cli/ are served, never outside them.
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { PROFILES } from '../shared/profiles.js';
import { startHost } from './host-server.js';

const WWW = fileURLToPath(new URL('../', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/** The file for a URL path, or null when it is not one the page may have. */
function fileFor(path) {
  const p = normalize(path);
  if (p.includes('..')) return null;
  if (p === '/' || p === '/index.html') return join(WWW, 'index.html');
  if (p === '/style.css') return join(WWW, 'style.css');
  if (p.startsWith('/app/') || p.startsWith('/shared/')) return join(WWW, p.split('/').join(sep));
  if (p.startsWith('/bindings/js/') || p.startsWith('/js/cli/')) return join(ROOT, p.split('/').join(sep));
  return null;
}

/** Start the hosts and the page server; `port` 0 = any free port. */
export async function startWww({ port = 0 } = {}) {
  const started = performance.now();
  const clock = () => performance.now() - started;
  // In flight at all hosts together. A reset starts a new object, so requests
  // still in flight leave the old one (as the models forget theirs).
  let totals = { current: 0, maxConcurrent: 0 };
  const hosts = await Promise.all(PROFILES.map((p) => startHost(p, clock, () => totals)));

  const stats = () => {
    const out = {};
    for (const h of hosts) out[h.name] = h.model.stats();
    return { now: clock(), total: { ...totals }, hosts: out };
  };
  const reset = () => {
    for (const h of hosts) h.model.reset();
    totals = { current: 0, maxConcurrent: 0 };
  };

  const server = http.createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const json = (value) => {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(value));
    };
    if (path === '/api/hosts') return json(hosts.map(({ name, about, url }) => ({ name, about, url })));
    if (path === '/api/stats') return json(stats());
    if (path === '/api/reset') {
      if (req.method !== 'POST') {
        res.writeHead(405, { allow: 'POST' }).end();
        return;
      }
      reset();
      return json({ ok: true });
    }
    const file = req.method === 'GET' || req.method === 'HEAD' ? fileFor(path) : null;
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: '127.0.0.1' }, () => {
      server.off('error', reject);
      resolve();
    });
  });

  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    hosts: hosts.map(({ name, about, url }) => ({ name, about, url })),
    stats,
    reset,
    async close() {
      await Promise.all(hosts.map((h) => h.close()));
      await new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
