// Simulated mode: a fake `fetch` answering from the same HostModels the
// target server uses (www/shared/), on timers instead of sockets. Only for a
// page with no server behind it; the page labels it "simulated".
//
// Invariants: every call reaches its host's model once on arrival and once on
// leaving (answered or aborted); an aborted call rejects with the signal's
// reason and leaves no timer behind.
import { PROFILES } from '../shared/profiles.js';
import { HostModel } from '../shared/host-model.js';

/** `{ hosts: [{ name, about, url }], fetch, stats(), reset() }` for every profile. */
export function simulatedHosts() {
  const t0 = performance.now();
  const hosts = PROFILES.map((p) => ({ name: p.name, about: p.about, url: `http://${p.name}.sim`, model: new HostModel(p) }));
  const fetch = (input, init) =>
    new Promise((resolve, reject) => {
      const url = String(input);
      const host = hosts.find((h) => url.startsWith(h.url));
      if (!host) return reject(new TypeError(`simulated fetch: no host for ${url}`));
      const signal = init?.signal;
      if (signal?.aborted) return reject(signal.reason);
      const answer = host.model.arrive(performance.now() - t0);
      const onAbort = () => {
        clearTimeout(timer);
        host.model.leave(0, answer.epoch);
        reject(signal.reason);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        host.model.leave(answer.status, answer.epoch);
        const headers = answer.status === 429 ? { 'retry-after': String(answer.retryAfter) } : {};
        const body = { 429: 'Too Many Requests', 503: 'Service Unavailable' }[answer.status] ?? 'Hello, World!';
        resolve(new Response(body, { status: answer.status, headers }));
      }, answer.delayMs);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  return {
    hosts: hosts.map(({ name, about, url }) => ({ name, about, url })),
    fetch,
    stats() {
      const out = {};
      for (const h of hosts) out[h.name] = h.model.stats();
      return { now: performance.now() - t0, hosts: out };
    },
    reset() {
      for (const h of hosts) h.model.reset();
    },
  };
}
