// Resolve the package's "." export the way a runtime or bundler does: walk
// the conditions in the order package.json lists them and take the first one
// the host supports. Host-neutral (no I/O): pass the parsed package.json.

/**
 * @param {object} pkg parsed package.json
 * @param {string[]} conditions the conditions the host supports
 * @returns {string} the matched target, e.g. "./bindings/js/node.js"
 */
export function resolveExport(pkg, conditions) {
  const supported = new Set([...conditions, 'default']);
  let target = pkg.exports?.['.'] ?? pkg.exports;
  while (target && typeof target === 'object') {
    const hit = Object.keys(target).find((condition) => supported.has(condition));
    if (hit === undefined) throw new Error(`no export matches ${conditions.join(', ')}`);
    target = target[hit];
  }
  if (typeof target !== 'string') throw new Error('unresolvable export');
  return target;
}
