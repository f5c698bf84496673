// Chromium host: serves the package from 127.0.0.1, opens a page that loads
// it as a browser does (an import map sending `weir-limiter` to the entry
// resolved with the "browser" condition, whose wasm is inline), runs the
// suite there and asserts every case passed, by name.
import { test, before, after } from 'node:test';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { cases } from '../conformance/index.js';
import { resolveExport } from './resolve.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const entry = resolveExport(pkg, ['browser', 'import']).replace(/^\.\//, '/');

const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };

const page = `<!doctype html>
<meta charset="utf-8">
<title>weir conformance</title>
<script type="importmap">${JSON.stringify({ imports: { 'weir-limiter': entry } })}</script>
<script type="module">
  import * as weir from 'weir-limiter';
  import { cases, runAll, summary } from '/tests/conformance/index.js';
  try {
    const results = await runAll(weir, cases);
    console.log('chromium: ' + summary(results));
    window.weirResults = results;
  } catch (error) {
    window.weirResults = { error: String(error && error.stack || error) };
  }
</script>`;

/** Serves only the package's bindings/js/ and the suite, nothing else. */
function serve() {
  const server = createServer(async (request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url, 'http://x').pathname));
    if (path === '/') {
      response.writeHead(200, { 'content-type': 'text/html' }).end(page);
      return;
    }
    if (!path.startsWith('/bindings/js/') && !path.startsWith('/tests/conformance/')) {
      response.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(join(root, path));
      response.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' }).end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

let server;
let browser;
let results;
const logs = [];

before(async () => {
  server = await serve();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync',
    ],
  });
  const tab = await browser.newPage();
  tab.on('console', (message) => logs.push(message.text()));
  tab.on('pageerror', (error) => logs.push(`pageerror: ${error.message}`));
  await tab.goto(`http://127.0.0.1:${server.address().port}/`);
  await tab.waitForFunction(() => window.weirResults !== undefined, null, { timeout: 120000 });
  results = await tab.evaluate(() => window.weirResults);
  if (!Array.isArray(results)) throw new Error(`suite crashed: ${results.error}\n${logs.join('\n')}`);
});

after(async () => {
  await browser?.close();
  server?.close();
  const closing = logs.filter((line) => line.startsWith('chromium:'));
  if (closing.length) console.log(closing.join('\n'));
});

test('chromium: every conformance case ran', () => {
  const names = results.map((r) => r.name);
  for (const c of cases) if (!names.includes(c.name)) throw new Error(`missing: ${c.name}`);
});

for (const c of cases) {
  test(`chromium: ${c.name}`, () => {
    const result = results.find((r) => r.name === c.name);
    if (!result?.ok) throw new Error(result ? result.error : 'not run');
  });
}
