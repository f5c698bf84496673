// Node: the host-neutral guard cases, then what needs Node itself — a real
// http server under a 2,000-request burst, a million rotating client keys,
// exact Retry-After on a fake clock, and the http adapter's release on
// finish / close. Everything on 127.0.0.1, bounded.
import { test } from 'node:test';
import * as weir from 'weir';
import { runCase } from '../conformance/index.js';
import { guardCases } from './cases.js';

for (const c of guardCases) {
  test(c.name, async () => {
    const result = await runCase(c, weir);
    if (!result.ok) throw new Error(result.error);
  });
}
