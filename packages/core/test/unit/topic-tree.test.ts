import { describe, expect, it } from 'vitest'
import { TopicTree } from '../../src/router/topic-tree.js'
import { MATCH_CASES } from '../fixtures/match-cases.js'

function matchedKeys<T>(tree: TopicTree<T>, topic: string): string[] {
  const keys: string[] = []
  tree.match(topic, (_value, key) => keys.push(key))
  return keys.sort()
}

describe('TopicTree matching (MQTT 3.1.1 section 4.7)', () => {
  it.each(MATCH_CASES)('$filter vs $topic -> $matches', ({ filter, topic, matches }) => {
    const tree = new TopicTree<number>()
    tree.add(filter, 'k', 1)
    expect(matchedKeys(tree, topic)).toEqual(matches ? ['k'] : [])
  })

  it('visits every matching filter once, and only those', () => {
    const tree = new TopicTree<string>()
    const filters = ['a/b', 'a/+', 'a/#', '#', '+/b', '+/+', 'a/b/#', '+/#', 'a/c', 'a/b/c', '+', 'b/#', '$SYS/#']
    for (const filter of filters) tree.add(filter, filter, filter)
    expect(matchedKeys(tree, 'a/b')).toEqual(['#', '+/#', '+/+', '+/b', 'a/#', 'a/+', 'a/b', 'a/b/#'].sort())
    expect(matchedKeys(tree, 'a')).toEqual(['#', '+', '+/#', 'a/#'].sort())
    expect(matchedKeys(tree, '$SYS/broker')).toEqual(['$SYS/#'])
  })

  it('matches the table against all filters at once', () => {
    const tree = new TopicTree<number>()
    MATCH_CASES.forEach(({ filter }, i) => tree.add(filter, `${i}`, i))
    for (const { topic } of MATCH_CASES) {
      const expected = MATCH_CASES.flatMap((c, i) => (expectMatch(c.filter, topic) ? [`${i}`] : [])).sort()
      expect(matchedKeys(tree, topic), topic).toEqual(expected)
    }
  })
})

/** What the table says about (filter, topic), for pairs the table lists; other pairs by the same rules. */
function expectMatch(filter: string, topic: string): boolean {
  const listed = MATCH_CASES.find((c) => c.filter === filter && c.topic === topic)
  if (listed) return listed.matches
  return referenceMatch(filter, topic)
}

/** A deliberately naive level-by-level matcher, written from the spec text, to cross-check the tree. */
function referenceMatch(filter: string, topic: string): boolean {
  const f = filter.split('/')
  const t = topic.split('/')
  if (topic.startsWith('$') && (f[0] === '#' || f[0] === '+')) return false
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true
    if (i >= t.length) return false
    if (f[i] !== '+' && f[i] !== t[i]) return false
  }
  return f.length === t.length
}

describe('TopicTree bookkeeping', () => {
  it('keeps one value per (filter, key) and replaces on re-add', () => {
    const tree = new TopicTree<number>()
    expect(tree.add('a/b', 'c1', 1)).toBe(true)
    expect(tree.add('a/b', 'c2', 2)).toBe(true)
    expect(tree.add('a/b', 'c1', 3)).toBe(false)
    expect(tree.size).toBe(2)
    expect(tree.get('a/b', 'c1')).toBe(3)
    expect(tree.get('a/b', 'c2')).toBe(2)
    expect(tree.get('a/b', 'c3')).toBeUndefined()
    expect(tree.get('a', 'c1')).toBeUndefined()
    const values: number[] = []
    tree.match('a/b', (value) => values.push(value))
    expect(values.sort()).toEqual([2, 3])
  })

  it('removes entries, prunes empty branches and keeps the rest', () => {
    const tree = new TopicTree<number>()
    tree.add('a/b/c', 'k', 1)
    tree.add('a/b', 'k', 2)
    tree.add('a/#', 'k', 3)
    expect(tree.remove('a/b/c', 'other')).toBe(false)
    expect(tree.remove('x/y', 'k')).toBe(false)
    expect(tree.remove('a/b/c', 'k')).toBe(true)
    expect(tree.remove('a/b/c', 'k')).toBe(false)
    expect(tree.size).toBe(2)
    expect(matchedKeys(tree, 'a/b/c')).toEqual(['k']) // only 'a/#' is left for this topic
    expect(tree.get('a/b', 'k')).toBe(2)
    expect(tree.remove('a/b', 'k')).toBe(true)
    expect(tree.remove('a/#', 'k')).toBe(true)
    expect(tree.size).toBe(0)
    expect([...tree.entries()]).toEqual([])
    expect(matchedKeys(tree, 'a/b')).toEqual([])
  })

  it('lists every entry with its filter', () => {
    const tree = new TopicTree<number>()
    tree.add('a/b', 'c1', 1)
    tree.add('a/b', 'c2', 2)
    tree.add('#', 'c1', 3)
    tree.add('/x', 'c3', 4)
    const entries = [...tree.entries()].sort((x, y) => x.value - y.value)
    expect(entries).toEqual([
      { filter: 'a/b', key: 'c1', value: 1 },
      { filter: 'a/b', key: 'c2', value: 2 },
      { filter: '#', key: 'c1', value: 3 },
      { filter: '/x', key: 'c3', value: 4 },
    ])
  })
})
