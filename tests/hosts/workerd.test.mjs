// workerd host: serves the conformance suite under workerd with the package
// files as modules (entry resolved from package.json with the "workerd"
// condition, the .wasm as a `wasm` module; see ./workerd-host.mjs) on
// 127.0.0.1, fetches the results and asserts every case passed, by name.
import { test, before, after } from 'node:test';
import { cases } from '../conformance/index.js';
import { startWorkerd } from './workerd-host.mjs';

let host;
let results;

before(async () => {
  host = await startWorkerd({ worker: 'tests/hosts/workerd-worker.js', moduleDirs: ['tests/conformance'] });
  // One request runs the whole suite.
  results = await host.json('/');
});

after(() => host?.stop());

test('workerd: every conformance case ran', () => {
  const names = results.map((r) => r.name);
  for (const c of cases) if (!names.includes(c.name)) throw new Error(`missing: ${c.name}`);
});

for (const c of cases) {
  test(`workerd: ${c.name}`, () => {
    const result = results.find((r) => r.name === c.name);
    if (!result?.ok) throw new Error(result ? result.error : 'not run');
  });
}
