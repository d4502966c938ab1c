import { describe, expect, it } from 'vitest'
import { topicMatches } from '@wren/core'
import { filterCovers } from '../src/index.js'

describe('filterCovers', () => {
  it.each([
    ['#', '#', true],
    ['#', 'a/b/c', true],
    ['#', 'a/+/#', true],
    ['a/#', 'a', true],
    ['a/#', 'a/#', true],
    ['a/#', 'a/+', true],
    ['a/#', 'a/b/#', true],
    ['a/+', 'a/b', true],
    ['a/+', 'a/+', true],
    ['+/+', 'a/+', true],
    ['a/b', 'a/b', true],
    ['$SYS/#', '$SYS/broker/+', true],
    ['a/+', 'a/#', false],
    ['a/+', 'a', false],
    ['a/+', 'a/b/c', false],
    ['a/b', 'a/+', false],
    ['a/b/#', 'a/#', false],
    ['a/b', 'a/b/c', false],
    ['a/b/c', 'a/b', false],
    ['secret/#', '#', false],
    ['#', '$SYS/#', false],
    ['+/#', '$SYS/x', false],
    ['a', 'b', false],
  ])('%s covers %s: %s', (outer, inner, expected) => {
    expect(filterCovers(outer, inner)).toBe(expected)
  })

  it('never claims a cover that a topic disproves (exhaustive over a small alphabet)', () => {
    const levels = ['a', 'b', '$s', '']
    const topics: string[] = []
    const grow = (prefix: string[], depth: number): void => {
      if (prefix.length > 0) topics.push(prefix.join('/'))
      if (depth === 0) return
      for (const level of levels) grow([...prefix, level], depth - 1)
    }
    grow([], 4)
    const filterLevels = ['a', 'b', '$s', '+']
    const filters: string[] = []
    const growFilter = (prefix: string[], depth: number): void => {
      if (prefix.length > 0) {
        filters.push(prefix.join('/'))
        filters.push([...prefix, '#'].join('/'))
      }
      if (depth === 0) return
      for (const level of filterLevels) growFilter([...prefix, level], depth - 1)
    }
    filters.push('#')
    growFilter([], 3)
    let covers = 0
    for (const outer of filters) {
      for (const inner of filters) {
        if (!filterCovers(outer, inner)) continue
        covers++
        for (const topic of topics) {
          if (topicMatches(inner, topic) && !topicMatches(outer, topic)) {
            throw new Error(`${outer} claimed to cover ${inner}, but ${topic} matches only the latter`)
          }
        }
      }
    }
    expect(filters.length).toBeGreaterThan(150)
    expect(covers).toBeGreaterThan(1000)
  })
})
