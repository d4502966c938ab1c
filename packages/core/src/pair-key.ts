/**
 * One string key for a pair of strings that no other pair produces: the first part is length-prefixed.
 * Client ids, group names and filters may hold any character a client sends, so a separator character
 * alone (e.g. U+0000) would let one pair pose as another.
 */
export function pairKey(first: string, second: string): string {
  return `${first.length}:${first}${second}`
}
