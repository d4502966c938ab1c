/** Outbound queues, emptying: sent, released, acked and removed entries by packet and message id. */
import { beforeEach, describe, expect, it } from 'vitest'
import type { Persistence } from '@wren/core'
import { targets, testMessage } from './fixtures.js'

export function outboundDeliveryTests(store: () => Persistence): void {
  describe('outbound queues: delivery state', () => {
    let p: Persistence

    beforeEach(() => {
      p = store()
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
}
