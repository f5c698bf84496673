// The Worker that runs the conformance suite inside workerd. It imports the
// package as a bundled Worker would: `weir` resolved with the "workerd"
// condition, the .wasm arriving as a WebAssembly.Module import.
import * as weir from 'weir-limiter';
import { cases, runAll, summary } from './tests/conformance/index.js';

export default {
  async fetch() {
    const results = await runAll(weir, cases);
    console.log(`workerd: ${summary(results)}`);
    return Response.json(results);
  },
};
