import { describe, expect, it } from 'vitest'
import { TopicMap, TopicRuleError, topicRule, type BridgeTopic } from '../src/topic-map.js'

describe('bridge topic rules (Mosquitto semantics)', () => {
  // The table of mosquitto.conf(5): pattern, local prefix, remote prefix -> full local and remote topics
  it.each([
    ['pattern', 'L/', 'R/', 'L/pattern', 'R/pattern'],
    ['pattern', 'L/', '', 'L/pattern', 'pattern'],
    ['pattern', '', 'R/', 'pattern', 'R/pattern'],
    ['pattern', '', '', 'pattern', 'pattern'],
    ['', 'local', 'remote', 'local', 'remote'],
  ])('pattern %j, local prefix %j, remote prefix %j: %s locally, %s remotely', (pattern, localPrefix, remotePrefix, local, remote) => {
    const map = new TopicMap([{ pattern, direction: 'both', localPrefix, remotePrefix }])
    expect(map.rules[0]).toMatchObject({ localFilter: local, remoteFilter: remote })
    expect(map.toRemote(local)).toBe(remote)
    expect(map.toLocal(remote)).toBe(local)
  })

  it.each([
    [{ pattern: '', localPrefix: 'local' }, 'an empty topic pattern needs both'],
    [{ pattern: '', remotePrefix: 'remote' }, 'an empty topic pattern needs both'],
    [{ pattern: '' }, 'an empty topic pattern needs both'],
    [{ pattern: 'a/#', localPrefix: 'l/+/' }, 'must not contain wildcards'],
    [{ pattern: 'a/#', remotePrefix: 'r/#' }, 'must not contain wildcards'],
    [{ pattern: 'a/#/b' }, "local topic 'a/#/b'"],
    [{ pattern: 'a+' }, "local topic 'a+'"],
    [{ pattern: '$share/g/a' }, 'shared subscriptions cannot be bridged'],
    [{ pattern: 'a', direction: 'sideways' }, 'direction must be out, in or both'],
    [{ pattern: 'a', qos: 3 }, 'QoS must be 0, 1 or 2'],
  ] as Array<[BridgeTopic, string]>)('refuses %j', (topic, message) => {
    expect(() => topicRule(topic)).toThrow(TopicRuleError)
    expect(() => topicRule(topic)).toThrow(expect.objectContaining({ code: 'WREN_BRIDGE_TOPIC_INVALID' }))
    expect(() => topicRule(topic)).toThrow(message)
  })

  it('defaults to direction out, QoS 0, no prefixes', () => {
    expect(topicRule({ pattern: 'a/#' })).toEqual({ direction: 'out', qos: 0, localPrefix: '', remotePrefix: '', localFilter: 'a/#', remoteFilter: 'a/#' })
  })

  it('remaps whole trees both ways, e.g. topic # both 2 local/topic/ remote/topic/', () => {
    const map = new TopicMap([{ pattern: '#', direction: 'both', qos: 2, localPrefix: 'local/topic/', remotePrefix: 'remote/topic/' }])
    expect(map.toRemote('local/topic/a/b')).toBe('remote/topic/a/b')
    expect(map.toLocal('remote/topic/a/b')).toBe('local/topic/a/b')
    expect(map.toRemote('elsewhere/a')).toBeUndefined()
  })

  it('the example of the man page: topic clients/total in 0 test/mosquitto/org/ $SYS/broker/', () => {
    const map = new TopicMap([{ pattern: 'clients/total', direction: 'in', localPrefix: 'test/mosquitto/org/', remotePrefix: '$SYS/broker/' }])
    expect(map.remoteSubscriptions()).toEqual([{ filter: '$SYS/broker/clients/total', qos: 0 }])
    expect(map.localSubscriptions()).toEqual([])
    expect(map.toLocal('$SYS/broker/clients/total')).toBe('test/mosquitto/org/clients/total')
    // an 'in' rule does not send anything out
    expect(map.toRemote('test/mosquitto/org/clients/total')).toBeUndefined()
  })

  it('uses the first matching rule of the right direction, and subscribes once per filter at the highest QoS', () => {
    const map = new TopicMap([
      { pattern: 'a/#', direction: 'in', remotePrefix: 'in/' },
      { pattern: 'a/#', direction: 'out', qos: 1, remotePrefix: 'first/' },
      { pattern: 'a/b', direction: 'both', qos: 2, remotePrefix: 'second/' },
      { pattern: 'a/#', direction: 'out', qos: 2, remotePrefix: 'third/' },
    ])
    expect(map.toRemote('a/b')).toBe('first/a/b')
    expect(map.toLocal('second/a/b')).toBe('a/b')
    expect(map.localSubscriptions()).toEqual([
      { filter: 'a/#', qos: 2 },
      { filter: 'a/b', qos: 2 },
    ])
    expect(map.outOnlyRemoteFilters()).toEqual(['first/a/#', 'third/a/#'])
  })
})
