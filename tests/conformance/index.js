// The conformance suite: every case file registers its cases on import.
import './limiter.js';
import './semaphore.js';
import './rate.js';
import './as-completed.js';
import './options.js';
import './settles.js';
import './adaptive.js';

export { cases, runAll, runCase, summary } from './harness.js';
