// limiter.fetch under workerd: the Worker (workerd-worker.js, importing the
// package with the "workerd" condition) fetches from a target server on
// 127.0.0.1; the server sees at most 6 requests at once (workerd's default
// concurrency) and every body arrives.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveExport } from '../hosts/resolve.js';
import { freePort } from '../hosts/free-port.mjs';
import { targets, hostStats } from './helpers.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const rel = (abs) => relative(root, abs);

function workerdBinary() {
  const require = createRequire(import.meta.url);
  const platform = `@cloudflare/workerd-${process.platform}-${process.arch === 'x64' ? '64' : process.arch}`;
  return join(dirname(require.resolve(`${platform}/package.json`)), 'bin', 'workerd');
}

function config(port) {
  const entry = resolveExport(pkg, ['workerd', 'worker', 'browser', 'import']);
  const entryDir = dirname(join(root, entry));
  const modules = [
    `(name = "worker.js", esModule = embed "tests/fetch/workerd-worker.js")`,
    `(name = "weir", esModule = embed "${rel(join(root, entry))}")`,
  ];
  for (const file of readdirSync(join(root, 'js'), { recursive: true })) {
    const abs = join(root, 'js', file);
    if (file.endsWith('.js') && abs !== join(root, entry) && !file.startsWith('cli') && !file.startsWith('server')) {
      modules.push(`(name = "${relative(entryDir, abs)}", esModule = embed "${rel(abs)}")`);
    } else if (file.endsWith('.wasm')) {
      modules.push(`(name = "${relative(entryDir, abs)}", wasm = embed "${rel(abs)}")`);
    }
  }
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .suite),
    (name = "net", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const suite :Workerd.Worker = (
  modules = [
    ${modules.join(',\n    ')}
  ],
  compatibilityDate = "2025-01-01",
  globalOutbound = "net",
);
`;
}

const [server] = await targets(1);
let child;
let configFile;
let output = '';
after(async () => {
  child?.kill('SIGTERM');
  if (configFile) rmSync(configFile, { force: true });
  await server.close();
});

test('workerd: limiter.fetch caps a host at 6 by default and holds permits to the body end', { timeout: 60_000 }, async () => {
  const port = await freePort();
  configFile = join(root, `.workerd-fetch-${process.pid}.capnp`);
  writeFileSync(configFile, config(port));
  child = spawn(workerdBinary(), ['serve', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  let result;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/?target=${encodeURIComponent(server.url)}`);
      if (!response.ok) throw new Error(`workerd answered ${response.status}: ${await response.text()}\n${output}`);
      result = await response.json();
      break;
    } catch (error) {
      if (child.exitCode !== null || Date.now() > deadline || /answered/.test(error.message)) {
        throw new Error(`workerd run failed: ${error.message}\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  assert.equal(result.ok, 24);
  assert.equal(result.concurrency, 6);
  assert.equal(result.inFlight, 0);
  assert.equal(result.retriedAttempts, 2);
  const s = hostStats(server);
  assert.equal(s.total, 24 + 2);
  assert.ok(s.maxConcurrent <= 6, `the server saw ${s.maxConcurrent} at once`);
  const key = Object.keys(result.fetchStats)[0];
  assert.equal(result.fetchStats[key].sent, 26);
  assert.equal(result.fetchStats[key].retried, 1);
});
