// Safe file names for `--save DIR`: derived from the URL, readable, unique by
// a hash of the whole URL, never a path (no separators, no `..`), bounded length.
import { createHash } from 'node:crypto';
import { resolve, sep } from 'node:path';

const MAX_READABLE = 100;

/** A file name (not a path) for the body of `url`. */
export function fileNameFor(url) {
  let readable = url;
  try {
    const u = new URL(url);
    readable = `${u.host}${u.pathname}`;
  } catch {
    // not a URL: the raw text, sanitised below
  }
  readable = readable
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/\.{2,}/g, '_')
    .replace(/^[._-]+/, '')
    .replace(/[._]+$/, '');
  if (readable.length > MAX_READABLE) readable = readable.slice(0, MAX_READABLE);
  const hash = createHash('sha256').update(url).digest('hex').slice(0, 12);
  return `${readable || 'index'}-${hash}`;
}

/** The absolute path for `url` inside `dir`; throws if it would leave `dir`. */
export function savePathFor(dir, url) {
  const root = resolve(dir);
  const full = resolve(root, fileNameFor(url));
  if (!full.startsWith(root + sep)) throw new Error(`refusing to write outside ${root}: ${full}`);
  return full;
}
