// Deno loader: reads the .wasm next to this module (needs --allow-read for
// the package directory) and instantiates it synchronously.
import { initSync } from './wasm/weir_wasm.js';

initSync({ module: Deno.readFileSync(new URL('./wasm/weir_wasm_bg.wasm', import.meta.url)) });

export * from './api.js';
