/** Outbound queues, filling: one message to many clients, order, limits and drop-oldest. */
import { beforeEach, describe, expect, it } from 'vitest'
import type { Persistence } from '@wren/core'
import { targets, testMessage } from './fixtures.js'

export function outboundEnqueueTests(store: () => Persistence): void {
  describe('outbound queues: enqueue and limits', () => {
    let p: Persistence

    beforeEach(() => {
      p = store()
    })

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

    it('refuses the message for clients whose queued payload bytes would pass `byteLimit`, counting entries in flight', async () => {
      const bytes = (n: number) => Buffer.alloc(n, 1)
      const first = testMessage('t', bytes(6))
      await p.outboundEnqueue(targets('busy'), first)
      await p.outboundEnqueue(targets('busy'), testMessage('t', bytes(3)))
      await p.outboundSent('busy', first.id as string, 1)
      const lost = await p.outboundEnqueue(targets('busy', 'empty'), testMessage('t', bytes(2)), 100, false, 10)
      expect(lost).toEqual(['busy'])
      expect(await p.outboundCount('busy')).toBe(2)
      expect(await p.outboundCount('empty')).toBe(1)
      // exactly at the cap fits
      expect(await p.outboundEnqueue(targets('busy'), testMessage('t', bytes(1)), 100, false, 10)).toEqual([])
      // acknowledging frees its bytes
      await p.outboundAck('busy', 1)
      expect(await p.outboundEnqueue(targets('busy'), testMessage('t', bytes(6)), 100, false, 10)).toEqual([])
      expect((await p.outboundList('busy')).map((entry) => entry.message.payload.length)).toEqual([3, 1, 6])
    })

    it('with dropOldest and `byteLimit`, drops as many of the oldest queued entries as the message needs, one id per loss', async () => {
      const old = [4, 4, 4].map((n, i) => testMessage('t', Buffer.alloc(n, i)))
      for (const message of old) await p.outboundEnqueue(targets('c1'), message)
      await p.outboundSent('c1', old[0]?.id as string, 1)
      const big = testMessage('t', Buffer.alloc(6, 9))
      expect(await p.outboundEnqueue(targets('c1'), big, 100, true, 12)).toEqual(['c1', 'c1'])
      expect((await p.outboundList('c1')).map((entry) => entry.message.id)).toEqual([old[0]?.id, big.id])
      // removed and acknowledged entries free their bytes too
      await p.outboundRemove('c1', big.id as string)
      expect(await p.outboundEnqueue(targets('c1'), testMessage('t', Buffer.alloc(8)), 100, true, 12)).toEqual([])
    })

    it('refuses a message larger than `byteLimit` on its own without dropping anything, and keeps it for others', async () => {
      const kept = testMessage('t', 'abc')
      await p.outboundEnqueue(targets('c1'), kept)
      const huge = testMessage('t', Buffer.alloc(20))
      expect(await p.outboundEnqueue(targets('c1'), huge, 100, true, 10)).toEqual(['c1'])
      expect((await p.outboundList('c1')).map((entry) => entry.message.id)).toEqual([kept.id])
      expect(await p.outboundEnqueue(targets('c2'), huge)).toEqual([])
      expect(await p.outboundList('c2')).toEqual([{ message: huge, qos: 1, state: 'queued' }])
    })

    it('forgets the bytes of a deleted session', async () => {
      await p.outboundEnqueue(targets('c1'), testMessage('t', Buffer.alloc(10)))
      await p.sessionDelete('c1')
      expect(await p.outboundEnqueue(targets('c1'), testMessage('t', Buffer.alloc(10)), 100, false, 10)).toEqual([])
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
      await p.outboundEnqueue([{ clientId: 'c1', qos: 2 }], message)
      expect((await p.outboundList('c1')).map((entry) => entry.qos)).toEqual([1])
      expect((await p.outboundList('c2')).map((entry) => entry.qos)).toEqual([1])
    })

    it('rejects a message without an id', async () => {
      const { id: _id, ...anonymous } = testMessage('t')
      await expect(p.outboundEnqueue(targets('c1'), anonymous)).rejects.toThrow()
    })

  })
}
