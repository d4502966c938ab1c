/** What a store whose data outlives the process keeps when it is closed and opened again. */
import { beforeEach, describe, expect, it } from 'vitest'
import type { Persistence, SessionRecord, WillRecord } from '@wren/core'
import { filtersOf, targets, testMessage } from './fixtures.js'

/** `reopen` closes the store under test, opens it again on the same storage and returns the new one. */
export function reopenTests(store: () => Persistence, reopen: () => Promise<Persistence>): void {
  describe('survives reopen', () => {
    let p: Persistence

    beforeEach(() => {
      p = store()
    })

    it('keeps retained messages, sessions, subscriptions, inbound ids, wills and session data', async () => {
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
      await p.sessionDataSet('c1', 'mqtt-sn:topics', '{"7":"keep/t"}')
      p = await reopen()
      expect(await p.retainedMatch('keep/#')).toEqual([retained])
      expect(await p.retainedCount()).toBe(1)
      expect(await p.sessionGet('c1')).toEqual(session)
      expect(await p.sessionList()).toEqual([session])
      expect(filtersOf(await p.subscriptionsGet('c1'))).toEqual(['$share/g/keep/+', 'keep/#'])
      expect((await p.subscriptionsGet('c1')).find(({ filter }) => filter === 'keep/#')).toEqual({ filter: 'keep/#', qos: 2, subscriptionIdentifier: 4 })
      expect(await p.subscriptionsAll()).toHaveLength(1)
      expect(await p.incomingHas('c1', 17)).toBe(true)
      expect(await p.willGet('c1')).toEqual(will)
      expect(await p.sessionDataGet('c1', 'mqtt-sn:topics')).toBe('{"7":"keep/t"}')
    })

    it('keeps queues in order with their delivery state, and acks still find their entry', async () => {
      const messages = [testMessage('q', '0'), testMessage('q', '1'), testMessage('q', '2', { qos: 2 })]
      for (const message of messages) await p.outboundEnqueue([{ clientId: 'c1', qos: message.qos, retain: true }], message)
      await p.outboundSent('c1', messages[0]?.id as string, 1)
      await p.outboundSent('c1', messages[2]?.id as string, 2)
      await p.outboundReleased('c1', 2)
      p = await reopen()
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

    it('still counts the payload bytes of a queue stored before it was reopened', async () => {
      const first = testMessage('q', Buffer.alloc(6))
      await p.outboundEnqueue(targets('c1'), first)
      await p.outboundEnqueue(targets('c1'), testMessage('q', Buffer.alloc(3)))
      await p.outboundSent('c1', first.id as string, 1)
      p = await reopen()
      expect(await p.outboundEnqueue(targets('c1'), testMessage('q', Buffer.alloc(2)), 100, false, 10)).toEqual(['c1'])
      await p.outboundAck('c1', 1)
      expect(await p.outboundEnqueue(targets('c1'), testMessage('q', Buffer.alloc(7)), 100, false, 10)).toEqual([])
    })
  })
}
