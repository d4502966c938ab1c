import { describe, expect, it } from 'vitest'
import {
  DEFAULT_TOPIC_LIMITS,
  isSharedFilter,
  parseSharedFilter,
  topicFilterProblem,
  topicMatches,
  topicNameProblem,
} from '../../src/topic/topic-rules.js'
import { MATCH_CASES } from '../fixtures/match-cases.js'

describe('topicMatches (MQTT 3.1.1 section 4.7)', () => {
  it.each(MATCH_CASES)('$filter vs $topic -> $matches', ({ filter, topic, matches }) => {
    expect(topicMatches(filter, topic)).toBe(matches)
  })
})

describe('topicNameProblem', () => {
  it.each(['a', '/', 'a//b', '$SYS/broker', 'a b', ' ', 'sport/tennis/player1', 'é/ü/漢字', 'a/\uFFFD'])('accepts %j', (name) => {
    expect(topicNameProblem(name)).toBeUndefined()
  })

  it.each([
    ['', 'empty'], // [MQTT-4.7.3-1]
    ['a/+', 'wildcard-in-name'], // [MQTT-3.3.2-2]
    ['a/#', 'wildcard-in-name'],
    ['#', 'wildcard-in-name'],
    ['+', 'wildcard-in-name'],
    ['a+b', 'wildcard-in-name'],
    ['a\u0000b', 'null-character'], // [MQTT-4.7.3-2]
  ] as const)('rejects %j as %s', (name, problem) => {
    expect(topicNameProblem(name)).toBe(problem)
  })

  it('rejects a name longer than the limit, counted in UTF-8 bytes', () => {
    const limits = { maxLength: 9, maxLevels: 128 }
    expect(topicNameProblem('abcdefghi', limits)).toBeUndefined()
    expect(topicNameProblem('abcdefghij', limits)).toBe('too-long')
    // 5 characters, 10 bytes
    expect(topicNameProblem('ééééé', limits)).toBe('too-long')
    expect(topicNameProblem('éééé', limits)).toBeUndefined()
  })

  it('rejects a name over the protocol maximum of 65535 bytes by default', () => {
    expect(topicNameProblem('a'.repeat(65535))).toBeUndefined()
    expect(topicNameProblem('a'.repeat(65536))).toBe('too-long')
  })

  it('rejects a name with more levels than allowed', () => {
    const levels = (n: number) => Array.from({ length: n }, (_, i) => `l${i}`).join('/')
    expect(topicNameProblem(levels(DEFAULT_TOPIC_LIMITS.maxLevels))).toBeUndefined()
    expect(topicNameProblem(levels(DEFAULT_TOPIC_LIMITS.maxLevels + 1))).toBe('too-many-levels')
    expect(topicNameProblem('a/b/c', { maxLength: 100, maxLevels: 3 })).toBeUndefined()
    expect(topicNameProblem('a/b/c/d', { maxLength: 100, maxLevels: 3 })).toBe('too-many-levels')
    // empty levels count too
    expect(topicNameProblem('///', { maxLength: 100, maxLevels: 3 })).toBe('too-many-levels')
  })
})

describe('topicFilterProblem', () => {
  it.each(['#', '+', '+/+', 'a/+/b/#', '/#', '+/#', '$SYS/#', 'a//b', '/', 'sport/tennis/+', '+/tennis/#', 'a/b'])(
    'accepts %j',
    (filter) => {
      expect(topicFilterProblem(filter)).toBeUndefined()
    },
  )

  it.each([
    ['a/#/b', 'bad-wildcard'], // '#' must be last [MQTT-4.7.1-2]
    ['#/a', 'bad-wildcard'],
    ['a/#/', 'bad-wildcard'],
    ['a#', 'bad-wildcard'], // '#' must occupy a whole level
    ['#a', 'bad-wildcard'],
    ['a/b#', 'bad-wildcard'],
    ['##', 'bad-wildcard'],
    ['a+', 'bad-wildcard'], // '+' must occupy a whole level [MQTT-4.7.1-3]
    ['+a', 'bad-wildcard'],
    ['a/+b/c', 'bad-wildcard'],
    ['++', 'bad-wildcard'],
    ['+#', 'bad-wildcard'],
    ['', 'empty'],
    ['a/\u0000', 'null-character'],
  ] as const)('rejects %j as %s', (filter, problem) => {
    expect(topicFilterProblem(filter)).toBe(problem)
  })

  it('applies the length and level limits to filters', () => {
    expect(topicFilterProblem('a/b/#', { maxLength: 100, maxLevels: 3 })).toBeUndefined()
    expect(topicFilterProblem('a/b/c/#', { maxLength: 100, maxLevels: 3 })).toBe('too-many-levels')
    expect(topicFilterProblem('a/+/c/', { maxLength: 5, maxLevels: 128 })).toBe('too-long')
  })

  it.each([
    ['$share/g/a/b', undefined],
    ['$share/g/#', undefined],
    ['$share/g/+/x', undefined],
    ['$share//a', 'bad-shared-subscription'], // empty group [MQTT-4.8.2-1]
    ['$share/g', 'bad-shared-subscription'], // no filter [MQTT-4.8.2-2]
    ['$share/g/', 'bad-shared-subscription'],
    ['$share/g+/a', 'bad-shared-subscription'],
    ['$share/g#/a', 'bad-shared-subscription'],
    ['$share/g/a/#/b', 'bad-wildcard'],
    ['$share/g/a+', 'bad-wildcard'],
  ] as const)('checks shared filter %j -> %s', (filter, problem) => {
    expect(topicFilterProblem(filter)).toBe(problem)
  })
})

describe('shared filter parsing', () => {
  it('splits $share/<group>/<filter>', () => {
    expect(parseSharedFilter('$share/g/a/b')).toEqual({ group: 'g', filter: 'a/b' })
    expect(parseSharedFilter('$share/group-1/+/x/#')).toEqual({ group: 'group-1', filter: '+/x/#' })
    expect(parseSharedFilter('$share/g//a')).toEqual({ group: 'g', filter: '/a' })
  })

  it('returns undefined for filters that are not well-formed shared ones', () => {
    for (const filter of ['a/b', '$SYS/a', 'share/g/a', '$share', '$share/', '$share//a', '$share/g', '$share/g/', '$share/+/a', '$share/#/a']) {
      expect(parseSharedFilter(filter), filter).toBeUndefined()
    }
  })

  it('recognises the $share prefix', () => {
    expect(isSharedFilter('$share/g/a')).toBe(true)
    expect(isSharedFilter('$SYS/a')).toBe(false)
    expect(isSharedFilter('share/g/a')).toBe(false)
    expect(isSharedFilter('a/$share/g/a')).toBe(false)
  })
})
