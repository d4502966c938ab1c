/**
 * One string key for a pair of strings that no other pair produces: the first part is length-prefixed.
 * Client ids, group names and filters may hold any character a client sends, so a separator character
 * alone (e.g. U+0000) would let one pair pose as another.
 */
export function pairKey(first: string, second: string): string {
  return `${first.length}:${first}${second}`
}

/** The two parts of a `pairKey` result. */
export function splitPairKey(key: string): [string, string] {
  const colon = key.indexOf(':')
  const length = Number(key.slice(0, colon))
  return [key.slice(colon + 1, colon + 1 + length), key.slice(colon + 1 + length)]
}
