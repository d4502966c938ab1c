/** Inbound QoS 2 packet ids and wills. */
import { beforeEach, describe, expect, it } from 'vitest'
import type { Persistence, WillRecord } from '@wren/core'
import { testMessage } from './fixtures.js'

export function inboundAndWillTests(store: () => Persistence): void {
  describe('inbound QoS 2 ids', () => {
    let p: Persistence

    beforeEach(() => {
      p = store()
    })

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
    let p: Persistence

    beforeEach(() => {
      p = store()
    })

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
}
