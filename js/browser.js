// Browser (and web worker) loader: fetches the .wasm next to this module and
// compiles it while it streams (WebAssembly.instantiateStreaming), before the
// module finishes evaluating (top-level await).
import init from './wasm/weir_wasm.js';

await init({ module_or_path: new URL('./wasm/weir_wasm_bg.wasm', import.meta.url) });

export * from './api.js';
