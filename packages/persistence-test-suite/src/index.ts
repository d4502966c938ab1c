/**
 * The semantics every Wren persistence adapter must have, as vitest tests. An adapter's own test file calls
 * `persistenceSuite()` once; each test gets a fresh, empty store from the factory.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Message, OutboundTarget, Persistence, SessionRecord, Subscription, WillRecord } from '@wren/core'
import { limitTests } from './limits.js'

export interface PersistenceSuiteOptions {
  /** Releases what the factory made. Default: `persistence.close()`. */
  teardown?: (persistence: Persistence) => Promise<void>
  /**
   * Closes the given store and opens a new one on the same storage, for adapters whose data outlives the
   * process. Without it the "survives reopen" tests are skipped.
   */
  reopen?: (persistence: Persistence) => Promise<Persistence>
}

let sequence = 0
const runId = Math.random().toString(36).slice(2, 8)

function nextId(): string {
  sequence++
  return `${runId}-${sequence}`
}

/** A message with a fresh id; `extra` overrides any field. */
export function testMessage(topic: string, payload: string | Buffer = 'payload', extra: Partial<Message> = {}): Message {
  return {
    id: nextId(),
    topic,
    payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
    qos: 1,
    retain: false,
    ...extra,
  }
}

function topicsOf(messages: Message[]): string[] {
  return messages.map((message) => message.topic).sort()
}

function targets(...clientIds: string[]): OutboundTarget[] {
  return clientIds.map((clientId) => ({ clientId, qos: 1 }))
}

function byTopicKeys(found: Array<{ clientId: string; subscription: Subscription }>): string[] {
  return found.map(({ clientId, subscription }) => `${clientId} ${subscription.filter}`).sort()
}

export function persistenceSuite(name: string, factory: () => Promise<Persistence>, options: PersistenceSuiteOptions = {}): void {
  const teardown = options.teardown ?? ((persistence: Persistence) => persistence.close())

  describe(`persistence suite: ${name}`, () => {
    let p: Persistence

    beforeEach(async () => {
      p = await factory()
    })

    afterEach(async () => {
      await teardown(p)
    })

    describe('retained messages', () => {
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

    describe('sessions', () => {
      const record: SessionRecord = {
        clientId: 'client-a',
        protocolVersion: 5,
        expiryInterval: 3600,
        disconnectedAt: 1_700_000_000_000,
        brokerId: 'broker-1',
      }

      it('saves a session and gets it back, every field intact', async () => {
        await p.sessionSave(record)
        expect(await p.sessionGet('client-a')).toEqual(record)
      })

      it('gets undefined for an unknown client', async () => {
        expect(await p.sessionGet('nobody')).toBeUndefined()
      })

      it('replaces a session on save, dropping fields the new record lacks', async () => {
        await p.sessionSave(record)
        const online: SessionRecord = { clientId: 'client-a', protocolVersion: 4, expiryInterval: 0xffffffff }
        await p.sessionSave(online)
        expect(await p.sessionGet('client-a')).toEqual(online)
        expect(await p.sessionList()).toHaveLength(1)
      })

      it('lists every session', async () => {
        await p.sessionSave(record)
        await p.sessionSave({ clientId: 'client-b', protocolVersion: 3, expiryInterval: 10 })
        const list = await p.sessionList()
        expect(list.map((session) => session.clientId).sort()).toEqual(['client-a', 'client-b'])
        expect(list.find((session) => session.clientId === 'client-a')).toEqual(record)
      })

      it('hands out copies: changing a returned record does not change the store', async () => {
        await p.sessionSave(record)
        const got = await p.sessionGet('client-a')
        if (got) got.expiryInterval = 1
        expect((await p.sessionGet('client-a'))?.expiryInterval).toBe(3600)
      })
    })

    describe('subscriptions', () => {
      const full: Subscription = {
        filter: 'a/+/c',
        qos: 2,
        noLocal: true,
        retainAsPublished: true,
        retainHandling: 2,
        subscriptionIdentifier: 268435455,
      }

      it('adds subscriptions and gets them back, every field intact', async () => {
        await p.subscriptionsAdd('c1', [full, { filter: 'b/#', qos: 0 }])
        const got = await p.subscriptionsGet('c1')
        expect(got.sort((x, y) => x.filter.localeCompare(y.filter))).toEqual([full, { filter: 'b/#', qos: 0 }])
      })

      it('replaces a subscription with the same filter', async () => {
        await p.subscriptionsAdd('c1', [full])
        await p.subscriptionsAdd('c1', [{ filter: 'a/+/c', qos: 0 }])
        expect(await p.subscriptionsGet('c1')).toEqual([{ filter: 'a/+/c', qos: 0 }])
        expect(byTopicKeys(await p.subscriptionsByTopic('a/b/c'))).toEqual(['c1 a/+/c'])
      })

      it('removes the given filters only, and removing an unknown filter is harmless', async () => {
        await p.subscriptionsAdd('c1', [
          { filter: 'x', qos: 1 },
          { filter: 'y', qos: 1 },
          { filter: 'z', qos: 1 },
        ])
        await p.subscriptionsRemove('c1', ['x', 'z', 'not-there'])
        await p.subscriptionsRemove('nobody', ['x'])
        expect(await p.subscriptionsGet('c1')).toEqual([{ filter: 'y', qos: 1 }])
      })

      it('gets an empty list for a client without subscriptions', async () => {
        expect(await p.subscriptionsGet('nobody')).toEqual([])
      })

      it('lists every subscription grouped by client, leaving out clients with none left', async () => {
        await p.subscriptionsAdd('c1', [{ filter: 'a', qos: 1 }])
        await p.subscriptionsAdd('c2', [
          { filter: 'b', qos: 2 },
          { filter: 'c/#', qos: 0 },
        ])
        await p.subscriptionsAdd('c3', [{ filter: 'd', qos: 1 }])
        await p.subscriptionsRemove('c3', ['d'])
        const all = await p.subscriptionsAll()
        const grouped = Object.fromEntries(
          all.map(({ clientId, subscriptions }) => [clientId, subscriptions.map((s) => s.filter).sort()]),
        )
        expect(grouped).toEqual({ c1: ['a'], c2: ['b', 'c/#'] })
      })

      it('finds the subscriptions matching a topic, across clients and wildcards', async () => {
        await p.subscriptionsAdd('c1', [
          { filter: 'home/+/temp', qos: 1 },
          { filter: 'home/#', qos: 0 },
          { filter: 'office/#', qos: 0 },
        ])
        await p.subscriptionsAdd('c2', [{ filter: 'home/kitchen/temp', qos: 2 }])
        await p.subscriptionsAdd('c3', [{ filter: '#', qos: 0 }])
        await p.subscriptionsAdd('c4', [{ filter: '+/+', qos: 0 }])
        expect(byTopicKeys(await p.subscriptionsByTopic('home/kitchen/temp'))).toEqual([
          'c1 home/#',
          'c1 home/+/temp',
          'c2 home/kitchen/temp',
          'c3 #',
        ])
        const exact = (await p.subscriptionsByTopic('home/kitchen/temp')).find(({ clientId }) => clientId === 'c2')
        expect(exact?.subscription).toEqual({ filter: 'home/kitchen/temp', qos: 2 })
      })

      it("matches 'a/#' to the topic 'a' and '+' to empty levels", async () => {
        await p.subscriptionsAdd('c1', [
          { filter: 'a/#', qos: 0 },
          { filter: 'a/+/b', qos: 0 },
        ])
        expect(byTopicKeys(await p.subscriptionsByTopic('a'))).toEqual(['c1 a/#'])
        expect(byTopicKeys(await p.subscriptionsByTopic('a//b'))).toEqual(['c1 a/#', 'c1 a/+/b'])
      })

      it("does not match '$' topics with leading wildcards [MQTT-4.7.2-1]", async () => {
        await p.subscriptionsAdd('c1', [
          { filter: '#', qos: 0 },
          { filter: '+/broker', qos: 0 },
          { filter: '$SYS/#', qos: 0 },
        ])
        expect(byTopicKeys(await p.subscriptionsByTopic('$SYS/broker'))).toEqual(['c1 $SYS/#'])
      })

      it('matches shared subscriptions on their inner filter and keeps the full filter', async () => {
        await p.subscriptionsAdd('c1', [
          { filter: '$share/workers/jobs/+', qos: 1 },
          { filter: 'jobs/+', qos: 0 },
        ])
        await p.subscriptionsAdd('c2', [{ filter: '$share/workers/jobs/#', qos: 2 }])
        expect(byTopicKeys(await p.subscriptionsByTopic('jobs/1'))).toEqual([
          'c1 $share/workers/jobs/+',
          'c1 jobs/+',
          'c2 $share/workers/jobs/#',
        ])
        expect(await p.subscriptionsByTopic('$share/workers/jobs/1')).toEqual([])
      })

      it('keeps client ids and filters apart whatever characters they hold', async () => {
        await p.subscriptionsAdd('a\u0000b', [{ filter: 'c', qos: 1 }])
        await p.subscriptionsAdd('a', [{ filter: 'b\u0000c', qos: 0 }])
        await p.subscriptionsAdd('1:x', [{ filter: 'c', qos: 0 }])
        const found = await p.subscriptionsByTopic('c')
        expect(found.map(({ clientId, subscription }) => [clientId, subscription.filter]).sort()).toEqual([
          ['1:x', 'c'],
          ['a\u0000b', 'c'],
        ])
      })

      it('stops matching a subscription once it is removed', async () => {
        await p.subscriptionsAdd('c1', [
          { filter: 'a/+', qos: 0 },
          { filter: '$share/g/a/+', qos: 0 },
        ])
        await p.subscriptionsAdd('c2', [{ filter: 'a/+', qos: 0 }])
        await p.subscriptionsRemove('c1', ['a/+', '$share/g/a/+'])
        expect(byTopicKeys(await p.subscriptionsByTopic('a/b'))).toEqual(['c2 a/+'])
      })

      it('finds nothing for a topic nobody subscribed to', async () => {
        await p.subscriptionsAdd('c1', [{ filter: 'a/b', qos: 0 }])
        expect(await p.subscriptionsByTopic('a/c')).toEqual([])
        expect(await p.subscriptionsByTopic('a/b/c')).toEqual([])
      })
    })

    describe('outbound queues', () => {
      it('enqueues one message to many clients, each with its own delivery options', async () => {
        const message = testMessage('t', 'body', { qos: 2 })
        const full = await p.outboundEnqueue(
          [
            { clientId: 'c1', qos: 1, subscriptionIdentifiers: [1, 7], retain: true },
            { clientId: 'c2', qos: 2 },
            { clientId: 'c3', qos: 0, retain: false },
          ],
          message,
        )
        expect(full).toEqual([])
        expect(await p.outboundList('c1')).toEqual([
          { message, qos: 1, state: 'queued', subscriptionIdentifiers: [1, 7], retain: true },
        ])
        expect(await p.outboundList('c2')).toEqual([{ message, qos: 2, state: 'queued' }])
        expect(await p.outboundList('c3')).toEqual([{ message, qos: 0, state: 'queued', retain: false }])
      })

      it('keeps the order messages were enqueued in', async () => {
        const messages = Array.from({ length: 50 }, (_, i) => testMessage('t', String(i)))
        for (const message of messages) await p.outboundEnqueue(targets('c1', 'c2'), message)
        for (const clientId of ['c1', 'c2']) {
          const list = await p.outboundList(clientId)
          expect(list.map((entry) => entry.message.id)).toEqual(messages.map((message) => message.id))
        }
        expect(await p.outboundCount('c1')).toBe(50)
      })

      it('keeps message properties and binary payloads in the queue', async () => {
        const payload = Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i))
        const message = testMessage('t', payload, {
          properties: { correlationData: Buffer.from('corr'), userProperties: { k: 'v' }, messageExpiryInterval: 30 },
          expiresAt: Date.now() + 30_000,
          origin: 'pub',
        })
        await p.outboundEnqueue(targets('c1'), message)
        const [entry] = await p.outboundList('c1')
        expect(entry?.message).toEqual(message)
        expect(entry?.message.payload.equals(payload)).toBe(true)
      })

      it('refuses the message for clients whose queue holds `limit` entries and returns their ids', async () => {
        for (let i = 0; i < 3; i++) await p.outboundEnqueue(targets('busy'), testMessage('t'))
        await p.outboundEnqueue(targets('half'), testMessage('t'))
        const full = await p.outboundEnqueue(targets('busy', 'half', 'empty'), testMessage('t', 'new'), 3)
        expect(full).toEqual(['busy'])
        expect(await p.outboundCount('busy')).toBe(3)
        expect(await p.outboundCount('half')).toBe(2)
        expect(await p.outboundCount('empty')).toBe(1)
      })

      it('returns every full client id, not a count', async () => {
        for (const clientId of ['f1', 'f2', 'f3']) await p.outboundEnqueue(targets(clientId), testMessage('t'))
        const full = await p.outboundEnqueue(targets('f1', 'ok', 'f2', 'f3'), testMessage('t'), 1)
        expect(full.sort()).toEqual(['f1', 'f2', 'f3'])
        expect(await p.outboundCount('ok')).toBe(1)
      })

      it('counts sent and released entries against the limit', async () => {
        const first = testMessage('t')
        const second = testMessage('t')
        await p.outboundEnqueue(targets('c1'), first)
        await p.outboundEnqueue(targets('c1'), second)
        await p.outboundSent('c1', first.id as string, 1)
        await p.outboundSent('c1', second.id as string, 2)
        await p.outboundReleased('c1', 2)
        expect(await p.outboundEnqueue(targets('c1'), testMessage('t'), 2)).toEqual(['c1'])
        await p.outboundAck('c1', 1)
        expect(await p.outboundEnqueue(targets('c1'), testMessage('t'), 2)).toEqual([])
      })

      it('with dropOldest, drops the oldest queued entry of a full queue to take the message and returns its client id', async () => {
        const old = Array.from({ length: 3 }, (_, i) => testMessage('t', `old-${i}`))
        for (const message of old) await p.outboundEnqueue(targets('busy'), message)
        const newest = testMessage('t', 'new')
        const lost = await p.outboundEnqueue(targets('busy', 'empty'), newest, 3, true)
        expect(lost).toEqual(['busy'])
        expect((await p.outboundList('busy')).map((entry) => entry.message.id)).toEqual([old[1]?.id, old[2]?.id, newest.id])
        expect((await p.outboundList('empty')).map((entry) => entry.message.id)).toEqual([newest.id])
      })

      it('with dropOldest, never drops an entry in flight', async () => {
        const messages = Array.from({ length: 4 }, (_, i) => testMessage('t', String(i)))
        for (const message of messages) await p.outboundEnqueue(targets('c1'), message)
        await p.outboundSent('c1', messages[0]?.id as string, 1)
        await p.outboundSent('c1', messages[1]?.id as string, 2)
        await p.outboundReleased('c1', 2)
        const newest = testMessage('t', 'new')
        expect(await p.outboundEnqueue(targets('c1'), newest, 4, true)).toEqual(['c1'])
        expect((await p.outboundList('c1')).map((entry) => [entry.message.id, entry.state])).toEqual([
          [messages[0]?.id, 'sent'],
          [messages[1]?.id, 'released'],
          [messages[3]?.id, 'queued'],
          [newest.id, 'queued'],
        ])
        // the in-flight entries still complete by packet id
        await p.outboundAck('c1', 1)
        await p.outboundAck('c1', 2)
        expect((await p.outboundList('c1')).map((entry) => entry.message.id)).toEqual([messages[3]?.id, newest.id])
      })

      it('with dropOldest, refuses the message when every entry is in flight', async () => {
        const messages = [testMessage('t', '0'), testMessage('t', '1')]
        for (const message of messages) await p.outboundEnqueue(targets('c1'), message)
        await p.outboundSent('c1', messages[0]?.id as string, 1)
        await p.outboundSent('c1', messages[1]?.id as string, 2)
        expect(await p.outboundEnqueue(targets('c1'), testMessage('t', 'new'), 2, true)).toEqual(['c1'])
        expect((await p.outboundList('c1')).map((entry) => entry.message.id)).toEqual(messages.map((message) => message.id))
      })

      it('with dropOldest, keeps the latest `limit` messages of every queue', async () => {
        const messages = Array.from({ length: 25 }, (_, i) => testMessage('t', String(i)))
        for (const message of messages) await p.outboundEnqueue(targets('c1', 'c2'), message, 10, true)
        for (const clientId of ['c1', 'c2']) {
          expect((await p.outboundList(clientId)).map((entry) => entry.message.payload.toString())).toEqual(
            messages.slice(15).map((message) => message.payload.toString()),
          )
        }
      })

      it('with dropOldest, keeps a message dropped from one queue whole in the others', async () => {
        const shared = testMessage('t', 'shared', { properties: { userProperties: { k: 'v' } } })
        await p.outboundEnqueue(targets('c1', 'c2'), shared)
        await p.outboundEnqueue(targets('c1'), testMessage('t', 'newer'), 1, true)
        expect((await p.outboundList('c1')).map((entry) => entry.message.payload.toString())).toEqual(['newer'])
        expect(await p.outboundList('c2')).toEqual([{ message: shared, qos: 1, state: 'queued' }])
      })

      it('takes any number of messages when no limit is given', async () => {
        for (let i = 0; i < 120; i++) expect(await p.outboundEnqueue(targets('c1'), testMessage('t'))).toEqual([])
        expect(await p.outboundCount('c1')).toBe(120)
      })

      it('keeps one entry when the same message is enqueued twice to a client', async () => {
        const message = testMessage('t')
        await p.outboundEnqueue([{ clientId: 'c1', qos: 1 }], message)
        await p.outboundEnqueue(
          [
            { clientId: 'c1', qos: 2 },
            { clientId: 'c2', qos: 1 },
            { clientId: 'c2', qos: 2 },
          ],
          message,
        )
        expect((await p.outboundList('c1')).map((entry) => entry.qos)).toEqual([1])
        expect((await p.outboundList('c2')).map((entry) => entry.qos)).toEqual([1])
      })

      it('rejects a message without an id', async () => {
        const { id: _id, ...anonymous } = testMessage('t')
        await expect(p.outboundEnqueue(targets('c1'), anonymous)).rejects.toThrow()
      })

      it('marks an entry sent with its packet id, in place', async () => {
        const messages = [testMessage('t', '0'), testMessage('t', '1'), testMessage('t', '2')]
        for (const message of messages) await p.outboundEnqueue(targets('c1'), message)
        await p.outboundSent('c1', messages[1]?.id as string, 42)
        const list = await p.outboundList('c1')
        expect(list.map((entry) => [entry.message.id, entry.state, entry.packetId])).toEqual([
          [messages[0]?.id, 'queued', undefined],
          [messages[1]?.id, 'sent', 42],
          [messages[2]?.id, 'queued', undefined],
        ])
      })

      it('moves a sent entry to a new packet id when it is sent again', async () => {
        const message = testMessage('t')
        await p.outboundEnqueue(targets('c1'), message)
        await p.outboundSent('c1', message.id as string, 1)
        await p.outboundSent('c1', message.id as string, 2)
        await p.outboundAck('c1', 1)
        expect(await p.outboundCount('c1')).toBe(1)
        expect((await p.outboundList('c1'))[0]?.packetId).toBe(2)
        await p.outboundAck('c1', 2)
        expect(await p.outboundCount('c1')).toBe(0)
      })

      it('marks the entry with a packet id released on PUBREC', async () => {
        const message = testMessage('t', 'x', { qos: 2 })
        await p.outboundEnqueue([{ clientId: 'c1', qos: 2 }], message)
        await p.outboundSent('c1', message.id as string, 7)
        await p.outboundReleased('c1', 7)
        const [entry] = await p.outboundList('c1')
        expect(entry?.state).toBe('released')
        expect(entry?.packetId).toBe(7)
        expect(entry?.message.id).toBe(message.id)
      })

      it('removes sent and released entries on ack, leaving the rest in order', async () => {
        const messages = [testMessage('t', '0'), testMessage('t', '1'), testMessage('t', '2'), testMessage('t', '3')]
        for (const message of messages) await p.outboundEnqueue(targets('c1'), message)
        await p.outboundSent('c1', messages[0]?.id as string, 10)
        await p.outboundSent('c1', messages[2]?.id as string, 11)
        await p.outboundReleased('c1', 11)
        await p.outboundAck('c1', 10)
        await p.outboundAck('c1', 11)
        expect((await p.outboundList('c1')).map((entry) => entry.message.id)).toEqual([messages[1]?.id, messages[3]?.id])
      })

      it('ignores acks, releases and sends that match nothing', async () => {
        const message = testMessage('t')
        await p.outboundEnqueue(targets('c1'), message)
        await p.outboundAck('c1', 99)
        await p.outboundReleased('c1', 99)
        await p.outboundSent('c1', 'no-such-message', 5)
        await p.outboundAck('nobody', 1)
        await p.outboundReleased('nobody', 1)
        await p.outboundSent('nobody', message.id as string, 1)
        await p.outboundRemove('nobody', message.id as string)
        expect(await p.outboundList('c1')).toEqual([{ message, qos: 1, state: 'queued' }])
        expect(await p.outboundList('nobody')).toEqual([])
      })

      it('reuses a packet id after its ack without touching the earlier entry', async () => {
        const first = testMessage('t', 'first')
        const second = testMessage('t', 'second')
        await p.outboundEnqueue(targets('c1'), first)
        await p.outboundEnqueue(targets('c1'), second)
        await p.outboundSent('c1', first.id as string, 1)
        await p.outboundAck('c1', 1)
        await p.outboundSent('c1', second.id as string, 1)
        expect((await p.outboundList('c1')).map((entry) => [entry.message.id, entry.packetId])).toEqual([[second.id, 1]])
        await p.outboundAck('c1', 1)
        expect(await p.outboundCount('c1')).toBe(0)
      })

      it('removes an entry by message id and forgets its packet id', async () => {
        const messages = [testMessage('t', '0'), testMessage('t', '1'), testMessage('t', '2')]
        for (const message of messages) await p.outboundEnqueue(targets('c1'), message)
        await p.outboundSent('c1', messages[0]?.id as string, 3)
        await p.outboundRemove('c1', messages[1]?.id as string)
        await p.outboundRemove('c1', messages[0]?.id as string)
        await p.outboundRemove('c1', 'no-such-message')
        expect((await p.outboundList('c1')).map((entry) => entry.message.id)).toEqual([messages[2]?.id])
        await p.outboundSent('c1', messages[2]?.id as string, 4)
        await p.outboundAck('c1', 3)
        expect(await p.outboundCount('c1')).toBe(1)
      })

      it('keeps queues of different clients apart, packet ids included', async () => {
        const message = testMessage('t')
        await p.outboundEnqueue(targets('c1', 'c2'), message)
        await p.outboundSent('c1', message.id as string, 1)
        await p.outboundSent('c2', message.id as string, 1)
        await p.outboundAck('c1', 1)
        expect(await p.outboundCount('c1')).toBe(0)
        const [entry] = await p.outboundList('c2')
        expect(entry?.state).toBe('sent')
        expect(entry?.message.payload.toString()).toBe('payload')
      })

      it('still delivers a shared message to the clients that have not acked it', async () => {
        const message = testMessage('t', 'shared')
        await p.outboundEnqueue(targets('c1', 'c2', 'c3'), message)
        await p.outboundRemove('c1', message.id as string)
        await p.outboundSent('c2', message.id as string, 9)
        await p.outboundAck('c2', 9)
        const [entry] = await p.outboundList('c3')
        expect(entry?.message).toEqual(message)
      })

      it('counts and lists nothing for an unknown client', async () => {
        expect(await p.outboundCount('nobody')).toBe(0)
        expect(await p.outboundList('nobody')).toEqual([])
      })
    })

    describe('inbound QoS 2 ids', () => {
      it('adds, finds and removes packet ids per client', async () => {
        await p.incomingAdd('c1', 1)
        await p.incomingAdd('c1', 1)
        await p.incomingAdd('c1', 65535)
        await p.incomingAdd('c2', 2)
        expect(await p.incomingHas('c1', 1)).toBe(true)
        expect(await p.incomingHas('c1', 65535)).toBe(true)
        expect(await p.incomingHas('c1', 2)).toBe(false)
        expect(await p.incomingHas('c2', 1)).toBe(false)
        await p.incomingRemove('c1', 1)
        await p.incomingRemove('c1', 12345)
        await p.incomingRemove('nobody', 1)
        expect(await p.incomingHas('c1', 1)).toBe(false)
        expect(await p.incomingHas('c1', 65535)).toBe(true)
        expect(await p.incomingHas('c2', 2)).toBe(true)
      })
    })

    describe('wills', () => {
      const will = (clientId: string, payload = 'gone'): WillRecord => ({
        clientId,
        brokerId: 'broker-1',
        delayInterval: 30,
        message: testMessage(`status/${clientId}`, payload, {
          qos: 1,
          retain: true,
          properties: { correlationData: Buffer.from([9, 8]), contentType: 'text/plain' },
        }),
      })

      it('puts a will and gets it back, binary payload intact', async () => {
        const record = will('c1')
        record.message.payload = Buffer.from([0, 255, 0, 255])
        await p.willPut(record)
        const got = await p.willGet('c1')
        expect(got).toEqual(record)
        expect(got?.message.payload.equals(record.message.payload)).toBe(true)
      })

      it('gets undefined for a client without a will', async () => {
        expect(await p.willGet('nobody')).toBeUndefined()
      })

      it('replaces a will, deletes it, and lists the rest', async () => {
        await p.willPut(will('c1', 'first'))
        await p.willPut(will('c1', 'second'))
        await p.willPut({ clientId: 'c2', delayInterval: 0, message: testMessage('status/c2', 'bye', { qos: 0 }) })
        await p.willPut(will('c3'))
        expect((await p.willGet('c1'))?.message.payload.toString()).toBe('second')
        await p.willDelete('c3')
        await p.willDelete('nobody')
        const list = await p.willList()
        expect(list.map((record) => record.clientId).sort()).toEqual(['c1', 'c2'])
        expect(list.find((record) => record.clientId === 'c2')).toEqual({
          clientId: 'c2',
          delayInterval: 0,
          message: expect.objectContaining({ topic: 'status/c2', qos: 0 }),
        })
      })
    })

    describe('sessionDelete', () => {
      async function populate(clientId: string): Promise<Message> {
        const message = testMessage(`to/${clientId}`)
        await p.sessionSave({ clientId, protocolVersion: 5, expiryInterval: 60 })
        await p.subscriptionsAdd(clientId, [
          { filter: 'shared/topic', qos: 1 },
          { filter: '$share/g/shared/#', qos: 1 },
        ])
        await p.outboundEnqueue(targets(clientId), message)
        await p.outboundEnqueue(targets(clientId), testMessage('t'))
        await p.outboundSent(clientId, message.id as string, 1)
        await p.incomingAdd(clientId, 5)
        await p.willPut({ clientId, delayInterval: 0, message: testMessage(`will/${clientId}`) })
        return message
      }

      it('removes the session with its subscriptions, queue, inbound ids and will', async () => {
        await populate('gone')
        await p.sessionDelete('gone')
        expect(await p.sessionGet('gone')).toBeUndefined()
        expect(await p.sessionList()).toEqual([])
        expect(await p.subscriptionsGet('gone')).toEqual([])
        expect(await p.subscriptionsAll()).toEqual([])
        expect(await p.subscriptionsByTopic('shared/topic')).toEqual([])
        expect(await p.outboundCount('gone')).toBe(0)
        expect(await p.outboundList('gone')).toEqual([])
        expect(await p.incomingHas('gone', 5)).toBe(false)
        expect(await p.willGet('gone')).toBeUndefined()
        expect(await p.willList()).toEqual([])
      })

      it('leaves other clients and retained messages alone', async () => {
        await populate('gone')
        const kept = await populate('kept')
        await p.retainedStore(testMessage('r/1', 'retained', { retain: true }))
        await p.sessionDelete('gone')
        expect((await p.sessionList()).map((record) => record.clientId)).toEqual(['kept'])
        expect(byTopicKeys(await p.subscriptionsByTopic('shared/topic'))).toEqual(['kept $share/g/shared/#', 'kept shared/topic'])
        expect(await p.outboundCount('kept')).toBe(2)
        expect((await p.outboundList('kept'))[0]?.message).toEqual(kept)
        expect(await p.incomingHas('kept', 5)).toBe(true)
        expect((await p.willGet('kept'))?.clientId).toBe('kept')
        expect(await p.retainedCount()).toBe(1)
      })

      it('is harmless for an unknown client, and a deleted client can start afresh', async () => {
        await p.sessionDelete('nobody')
        await populate('again')
        await p.sessionDelete('again')
        await p.outboundEnqueue(targets('again'), testMessage('t', 'fresh'))
        await p.outboundSent('again', (await p.outboundList('again'))[0]?.message.id as string, 1)
        expect((await p.outboundList('again')).map((entry) => [entry.message.payload.toString(), entry.packetId])).toEqual([
          ['fresh', 1],
        ])
      })
    })

    describe.runIf(options.reopen !== undefined)('survives reopen', () => {
      async function reopen(): Promise<void> {
        if (!options.reopen) throw new Error('unreachable: the block only runs with a reopen hook')
        p = await options.reopen(p)
      }

      it('keeps retained messages, sessions, subscriptions, inbound ids and wills', async () => {
        const retained = testMessage('keep/r', Buffer.from([1, 2, 3]), {
          retain: true,
          properties: { correlationData: Buffer.from('c') },
        })
        const session: SessionRecord = { clientId: 'c1', protocolVersion: 5, expiryInterval: 600, disconnectedAt: 123 }
        const will: WillRecord = { clientId: 'c1', delayInterval: 5, message: testMessage('will/c1', 'bye') }
        await p.retainedStore(retained)
        await p.sessionSave(session)
        await p.subscriptionsAdd('c1', [
          { filter: 'keep/#', qos: 2, subscriptionIdentifier: 4 },
          { filter: '$share/g/keep/+', qos: 1 },
        ])
        await p.incomingAdd('c1', 17)
        await p.willPut(will)
        await reopen()
        expect(await p.retainedMatch('keep/#')).toEqual([retained])
        expect(await p.retainedCount()).toBe(1)
        expect(await p.sessionGet('c1')).toEqual(session)
        expect(await p.sessionList()).toEqual([session])
        expect(byTopicKeys(await p.subscriptionsByTopic('keep/x'))).toEqual(['c1 $share/g/keep/+', 'c1 keep/#'])
        expect(await p.subscriptionsAll()).toHaveLength(1)
        expect(await p.incomingHas('c1', 17)).toBe(true)
        expect(await p.willGet('c1')).toEqual(will)
      })

      it('keeps queues in order with their delivery state, and acks still find their entry', async () => {
        const messages = [testMessage('q', '0'), testMessage('q', '1'), testMessage('q', '2', { qos: 2 })]
        for (const message of messages) await p.outboundEnqueue([{ clientId: 'c1', qos: message.qos, retain: true }], message)
        await p.outboundSent('c1', messages[0]?.id as string, 1)
        await p.outboundSent('c1', messages[2]?.id as string, 2)
        await p.outboundReleased('c1', 2)
        await reopen()
        expect((await p.outboundList('c1')).map((entry) => [entry.message.payload.toString(), entry.state, entry.packetId])).toEqual([
          ['0', 'sent', 1],
          ['1', 'queued', undefined],
          ['2', 'released', 2],
        ])
        await p.outboundAck('c1', 2)
        await p.outboundAck('c1', 1)
        await p.outboundEnqueue(targets('c1'), testMessage('q', '3'))
        expect((await p.outboundList('c1')).map((entry) => entry.message.payload.toString())).toEqual(['1', '3'])
      })
    })

    limitTests(() => p)
  })
}
export { deliverySuite } from './delivery-suite.js'
