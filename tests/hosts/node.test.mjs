// Node host: the suite runs in this process; 'weir' resolves through the
// package's own exports (self-reference, "node" condition).
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import * as weir from 'weir';
import { cases, runCase } from '../conformance/index.js';
import { resolveExport } from './resolve.js';

test('package: the node condition resolves to the node loader', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  const target = resolveExport(pkg, ['node', 'import']);
  if (target !== './js/node.js') throw new Error(`node resolved to ${target}`);
  for (const [host, expected] of [
    [['workerd', 'worker', 'browser', 'import'], './js/workerd.js'],
    [['edge-light', 'worker', 'browser', 'import'], './js/workerd.js'],
    [['deno', 'node', 'import'], './js/deno.js'],
    [['browser', 'import'], './js/browser.js'],
    [['worker', 'import'], './js/browser.js'],
    [['import'], './js/browser.js'],
  ]) {
    const got = resolveExport(pkg, host);
    if (got !== expected) throw new Error(`${host.join('+')} resolved to ${got}, expected ${expected}`);
  }
  const keys = Object.keys(pkg.exports['.']);
  if (keys[0] !== 'types' || keys.at(-1) !== 'default') throw new Error(`condition order: ${keys}`);
});

for (const c of cases) {
  test(c.name, async () => {
    const result = await runCase(c, weir);
    if (!result.ok) throw new Error(result.error);
  });
}
