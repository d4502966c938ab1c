/** Session records: save, get, replace, list, copies; the data gateways keep with a session. */
import { beforeEach, describe, expect, it } from 'vitest'
import type { Persistence, SessionRecord } from '@wren/core'

export function sessionTests(store: () => Persistence): void {
  describe('sessions', () => {
    let p: Persistence

    beforeEach(() => {
      p = store()
    })

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

    it('session data: a value per client and key, replaced on set, undefined where never set', async () => {
      await p.sessionDataSet('c1', 'mqtt-sn:topics', '{"1":"a/b"}')
      await p.sessionDataSet('c1', 'mqtt-sn:topics', '{"1":"a/b","2":"c/d"}')
      await p.sessionDataSet('c1', 'other', 'x')
      await p.sessionDataSet('c2', 'mqtt-sn:topics', 'é\u0000')
      expect(await p.sessionDataGet('c1', 'mqtt-sn:topics')).toBe('{"1":"a/b","2":"c/d"}')
      expect(await p.sessionDataGet('c1', 'other')).toBe('x')
      expect(await p.sessionDataGet('c2', 'mqtt-sn:topics')).toBe('é\u0000')
      expect(await p.sessionDataGet('c2', 'other')).toBeUndefined()
      expect(await p.sessionDataGet('nobody', 'mqtt-sn:topics')).toBeUndefined()
    })
  })
}
