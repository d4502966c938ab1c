/** Retained messages: store, replace, clear, count, and match by filter with wildcards and expiry. */
import { beforeEach, describe, expect, it } from 'vitest'
import type { Message, Persistence } from '@wren/core'
import { testMessage } from './fixtures.js'

function topicsOf(messages: Message[]): string[] {
  return messages.map((message) => message.topic).sort()
}

export function retainedTests(store: () => Persistence): void {
  describe('retained messages', () => {
    let p: Persistence

    beforeEach(() => {
      p = store()
    })

    it('stores a message and matches it by its exact topic, every field intact', async () => {
      const message = testMessage('sensors/kitchen/temp', '21.5', {
        qos: 2,
        retain: true,
        origin: 'publisher-1',
        expiresAt: Date.now() + 60_000,
        properties: {
          payloadFormatIndicator: true,
          messageExpiryInterval: 60,
          contentType: 'text/plain',
          responseTopic: 'replies/1',
          correlationData: Buffer.from([0, 1, 2, 255]),
          userProperties: { a: '1', b: ['2', '3'] },
        },
      })
      await p.retainedStore(message)
      const found = await p.retainedMatch('sensors/kitchen/temp')
      expect(found).toHaveLength(1)
      expect(found[0]).toEqual(message)
      expect(Buffer.isBuffer(found[0]?.payload)).toBe(true)
      expect(Buffer.isBuffer(found[0]?.properties?.correlationData)).toBe(true)
    })

    it('keeps binary payloads byte for byte, including a 1 MiB one', async () => {
      const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
      const large = Buffer.alloc(1024 * 1024, 0xab)
      await p.retainedStore(testMessage('bin/every', every))
      await p.retainedStore(testMessage('bin/large', large))
      const [first] = await p.retainedMatch('bin/every')
      const [second] = await p.retainedMatch('bin/large')
      expect(first?.payload.equals(every)).toBe(true)
      expect(second?.payload.equals(large)).toBe(true)
    })

    it('replaces the message on the same topic', async () => {
      await p.retainedStore(testMessage('a/b', 'first'))
      await p.retainedStore(testMessage('a/b', 'second'))
      const found = await p.retainedMatch('a/b')
      expect(found.map((message) => message.payload.toString())).toEqual(['second'])
      expect(await p.retainedCount()).toBe(1)
    })

    it('clears the topic on an empty payload, and clearing an absent topic is harmless', async () => {
      await p.retainedStore(testMessage('a/b'))
      await p.retainedStore(testMessage('a/c'))
      await p.retainedStore(testMessage('a/b', Buffer.alloc(0)))
      await p.retainedStore(testMessage('never/set', Buffer.alloc(0)))
      expect(topicsOf(await p.retainedMatch('a/#'))).toEqual(['a/c'])
      expect(await p.retainedCount()).toBe(1)
    })

    it('counts one message per topic', async () => {
      expect(await p.retainedCount()).toBe(0)
      for (const topic of ['x', 'x/y', 'x/y/z', 'q']) await p.retainedStore(testMessage(topic))
      expect(await p.retainedCount()).toBe(4)
    })

    it("matches '+' against exactly one level", async () => {
      for (const topic of ['a', 'a/b', 'a/c', 'a/b/c', 'b/b']) await p.retainedStore(testMessage(topic))
      expect(topicsOf(await p.retainedMatch('a/+'))).toEqual(['a/b', 'a/c'])
      expect(topicsOf(await p.retainedMatch('+/b'))).toEqual(['a/b', 'b/b'])
      expect(topicsOf(await p.retainedMatch('a/+/c'))).toEqual(['a/b/c'])
      expect(topicsOf(await p.retainedMatch('+'))).toEqual(['a'])
    })

    it("matches '#' against any number of levels, the parent level included", async () => {
      for (const topic of ['a', 'a/b', 'a/b/c', 'ab', 'b/a']) await p.retainedStore(testMessage(topic))
      expect(topicsOf(await p.retainedMatch('a/#'))).toEqual(['a', 'a/b', 'a/b/c'])
      expect(topicsOf(await p.retainedMatch('a/b/#'))).toEqual(['a/b', 'a/b/c'])
      expect(topicsOf(await p.retainedMatch('+/+/#'))).toEqual(['a/b', 'a/b/c', 'b/a'])
    })

    it('matches topics with empty levels', async () => {
      for (const topic of ['a//b', '/a', 'a/']) await p.retainedStore(testMessage(topic))
      expect(topicsOf(await p.retainedMatch('a/+/b'))).toEqual(['a//b'])
      expect(topicsOf(await p.retainedMatch('+/a'))).toEqual(['/a'])
      expect(topicsOf(await p.retainedMatch('a/+'))).toEqual(['a/'])
      expect(topicsOf(await p.retainedMatch('#'))).toEqual(['/a', 'a/', 'a//b'])
    })

    it("does not match '$' topics with a leading wildcard [MQTT-4.7.2-1]", async () => {
      for (const topic of ['$SYS/broker/uptime', '$SYS/x', 'plain/x']) await p.retainedStore(testMessage(topic))
      expect(topicsOf(await p.retainedMatch('#'))).toEqual(['plain/x'])
      expect(topicsOf(await p.retainedMatch('+/x'))).toEqual(['plain/x'])
      expect(topicsOf(await p.retainedMatch('$SYS/#'))).toEqual(['$SYS/broker/uptime', '$SYS/x'])
      expect(topicsOf(await p.retainedMatch('$SYS/+'))).toEqual(['$SYS/x'])
    })

    it('matches topics that share a prefix only at level boundaries, unicode included', async () => {
      for (const topic of ['home/kitchen', 'home/kitchenette', 'homer', 'häuser/küche', 'häuser/bad']) {
        await p.retainedStore(testMessage(topic))
      }
      expect(topicsOf(await p.retainedMatch('home/kitchen/#'))).toEqual(['home/kitchen'])
      expect(topicsOf(await p.retainedMatch('home/#'))).toEqual(['home/kitchen', 'home/kitchenette'])
      expect(topicsOf(await p.retainedMatch('häuser/+'))).toEqual(['häuser/bad', 'häuser/küche'])
    })

    it('returns nothing for a filter that matches nothing', async () => {
      await p.retainedStore(testMessage('a/b'))
      expect(await p.retainedMatch('c/#')).toEqual([])
      expect(await p.retainedMatch('a/b/c')).toEqual([])
      expect(await p.retainedMatch('a')).toEqual([])
    })

    it('leaves expired messages out and keeps ones that have not expired', async () => {
      await p.retainedStore(testMessage('exp/old', 'old', { expiresAt: Date.now() - 1000 }))
      await p.retainedStore(testMessage('exp/new', 'new', { expiresAt: Date.now() + 60_000 }))
      await p.retainedStore(testMessage('exp/never', 'never'))
      expect(topicsOf(await p.retainedMatch('exp/#'))).toEqual(['exp/never', 'exp/new'])
      expect(await p.retainedMatch('exp/old')).toEqual([])
    })

    it('matches many retained topics by a narrow filter', async () => {
      for (let i = 0; i < 200; i++) await p.retainedStore(testMessage(`fleet/${i}/status`, String(i)))
      const found = await p.retainedMatch('fleet/42/+')
      expect(found.map((message) => message.payload.toString())).toEqual(['42'])
      expect(await p.retainedMatch('fleet/+/status')).toHaveLength(200)
    })
  })
}
