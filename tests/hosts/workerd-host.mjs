// One way to run a Worker under the npm `workerd` binary for the test
// harnesses (tests/hosts, tests/guard, tests/fetch): generate the capnp
// config, serve it on a free 127.0.0.1 port, wait until the socket accepts,
// and stop + remove the config again.
//
// The Worker sees the package as a bundler hands it over: the entry resolved
// from package.json with the "workerd" condition under the bare name `weir-limiter`,
// its siblings under bindings/js/ by path relative to it, the .wasm as a `wasm` module.
// The node-only entry (bindings/js/server/) is left out.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveExport } from './resolve.js';
import { freePort } from './free-port.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const READY_TIMEOUT_MS = 30_000;

/** The workerd binary shipped by the npm package (no install script needed). */
export function workerdBinary() {
  const require = createRequire(import.meta.url);
  const platform = `@cloudflare/workerd-${process.platform}-${process.arch === 'x64' ? '64' : process.arch}`;
  return join(dirname(require.resolve(`${platform}/package.json`)), 'bin', 'workerd');
}

// capnp `embed` paths are relative to the config file (and may not climb
// out of its directory), so the generated config sits at the package root.
const rel = (abs) => relative(root, abs);

/** The package's modules as `(name = ..., ... = embed ...)` entries. */
function packageModules() {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const entry = join(root, resolveExport(pkg, ['workerd', 'worker', 'browser', 'import']));
  const entryDir = dirname(entry);
  const modules = [`(name = "weir-limiter", esModule = embed "${rel(entry)}")`];
  for (const file of readdirSync(join(root, 'bindings', 'js'), { recursive: true })) {
    const abs = join(root, 'bindings', 'js', file);
    const name = relative(entryDir, abs);
    if (file.startsWith('cli') || file.startsWith('server')) continue;
    if (file.endsWith('.js') && abs !== entry) {
      modules.push(`(name = "${name}", esModule = embed "${rel(abs)}")`);
    } else if (file.endsWith('.wasm')) {
      modules.push(`(name = "${name}", wasm = embed "${rel(abs)}")`);
    }
  }
  return modules;
}

/**
 * The capnp config text.
 * @param {{ worker: string, moduleDirs: string[], network: boolean, port: number }} options
 */
export function workerdConfig({ worker, moduleDirs, network, port }) {
  const modules = [`(name = "worker.js", esModule = embed "${worker}")`, ...packageModules()];
  // Support modules the Worker imports as `./<dir>/<file>`: every .js file of
  // each directory except the Worker itself and host-specific test files.
  for (const dir of moduleDirs) {
    for (const file of readdirSync(join(root, dir))) {
      const path = `${dir}/${file}`;
      if (file.endsWith('.js') && !file.endsWith('.test.js') && path !== worker) {
        modules.push(`(name = "${path}", esModule = embed "${path}")`);
      }
    }
  }
  const services = ['(name = "main", worker = .suite)'];
  if (network) services.push('(name = "net", network = (allow = ["public", "private", "local"]))');
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    ${services.join(',\n    ')}
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const suite :Workerd.Worker = (
  modules = [
    ${modules.join(',\n    ')}
  ],
  compatibilityDate = "2025-01-01",${network ? '\n  globalOutbound = "net",' : ''}
);
`;
}

/** Resolves once something accepts TCP connections on 127.0.0.1:`port`. */
function accepts(port) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => { socket.destroy(); resolve(false); });
  });
}

let started = 0;

/**
 * Serves `worker` (a path relative to the package root) under workerd.
 *
 * @param {object} options
 * @param {string} options.worker the Worker's entry module, e.g. "tests/guard/workerd-worker.js"
 * @param {string[]} [options.moduleDirs] directories (relative to the root) whose .js files the Worker imports
 * @param {boolean} [options.network] give the Worker outbound network access (127.0.0.1 included)
 * @returns {Promise<{ url: string, output: () => string, json: (path: string) => Promise<any>, stop: () => Promise<void> }>}
 *   `url` is `http://127.0.0.1:<port>`; `json(path)` GETs `url + path` and
 *   throws (with workerd's output) unless the answer is 2xx; `stop()` ends
 *   workerd, removes the config and prints what workerd wrote, if anything.
 */
export async function startWorkerd({ worker, moduleDirs = [], network = false }) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const configFile = join(root, `.workerd-${process.pid}-${started++}.capnp`);
  writeFileSync(configFile, workerdConfig({ worker, moduleDirs, network, port }));
  const child = spawn(workerdBinary(), ['serve', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((resolve) => child.once('exit', resolve));

  const shutDown = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(configFile, { force: true });
  };
  const stop = async () => {
    await shutDown();
    if (output.trim()) console.log(output.trim());
  };

  // Wait for the socket (bounded); give up early if workerd exits.
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await shutDown();
      throw new Error(`workerd did not start serving ${url} (exit code ${child.exitCode})\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  const json = async (path) => {
    const response = await fetch(`${url}${path}`);
    if (!response.ok) throw new Error(`workerd answered ${response.status}: ${await response.text()}\n${output}`);
    return response.json();
  };
  return { url, output: () => output, json, stop };
}
