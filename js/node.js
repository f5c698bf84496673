// Node loader: reads the .wasm that sits next to this module and instantiates
// it synchronously, so `import { Limiter } from 'weir'` is ready at once.
import { readFileSync } from 'node:fs';
import { initSync } from './wasm/weir_wasm.js';

initSync({ module: readFileSync(new URL('./wasm/weir_wasm_bg.wasm', import.meta.url)) });

export * from './api.js';
