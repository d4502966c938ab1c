/**
 * Whether every topic that `inner` matches is also matched by `outer` (both valid, non-shared filters).
 * It may answer false for a few exotic pairs that do cover (`+/#` covers `#`): a subscribe check built on it
 * errs toward refusing, never toward granting.
 */
export function filterCovers(outer: string, inner: string): boolean {
  const o = outer.split('/')
  const i = inner.split('/')
  const outerFirst = o[0] as string
  // A filter starting with a wildcard does not match `$` topics [MQTT-4.7.2-1], so it cannot cover `$SYS/...`.
  if ((outerFirst === '+' || outerFirst === '#') && (i[0] as string).startsWith('$')) return false
  for (let k = 0; k < o.length; k++) {
    const ol = o[k] as string
    // Also when `inner` has ended here: `a/#` matches `a` itself.
    if (ol === '#') return true
    if (k === i.length) return false
    const il = i[k] as string
    // A '#' in inner reaches deeper than any single level of outer; a '+' in inner needs a '+' in outer.
    if (il === '#') return false
    if (ol !== '+' && ol !== il) return false
  }
  return o.length === i.length
}
