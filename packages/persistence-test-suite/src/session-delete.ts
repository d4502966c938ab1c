/** sessionDelete: everything of one client goes, nothing of anyone else. */
import { beforeEach, describe, expect, it } from 'vitest'
import type { Message, Persistence } from '@wren/core'
import { filtersOf, targets, testMessage } from './fixtures.js'

export function sessionDeleteTests(store: () => Persistence): void {
  describe('sessionDelete', () => {
    let p: Persistence

    beforeEach(() => {
      p = store()
    })

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
      await p.sessionDataSet(clientId, 'gateway', `data of ${clientId}`)
      return message
    }

    it('removes the session with its subscriptions, queue, inbound ids, will and session data', async () => {
      await populate('gone')
      await p.sessionDelete('gone')
      expect(await p.sessionGet('gone')).toBeUndefined()
      expect(await p.sessionList()).toEqual([])
      expect(await p.subscriptionsGet('gone')).toEqual([])
      expect(await p.subscriptionsAll()).toEqual([])
      expect(await p.outboundCount('gone')).toBe(0)
      expect(await p.outboundList('gone')).toEqual([])
      expect(await p.incomingHas('gone', 5)).toBe(false)
      expect(await p.willGet('gone')).toBeUndefined()
      expect(await p.willList()).toEqual([])
      expect(await p.sessionDataGet('gone', 'gateway')).toBeUndefined()
    })

    it('leaves other clients and retained messages alone', async () => {
      await populate('gone')
      const kept = await populate('kept')
      await p.retainedStore(testMessage('r/1', 'retained', { retain: true }))
      await p.sessionDelete('gone')
      expect((await p.sessionList()).map((record) => record.clientId)).toEqual(['kept'])
      expect(filtersOf(await p.subscriptionsGet('kept'))).toEqual(['$share/g/shared/#', 'shared/topic'])
      expect((await p.subscriptionsAll()).map(({ clientId }) => clientId)).toEqual(['kept'])
      expect(await p.outboundCount('kept')).toBe(2)
      expect((await p.outboundList('kept'))[0]?.message).toEqual(kept)
      expect(await p.incomingHas('kept', 5)).toBe(true)
      expect((await p.willGet('kept'))?.clientId).toBe('kept')
      expect(await p.sessionDataGet('kept', 'gateway')).toBe('data of kept')
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
}
