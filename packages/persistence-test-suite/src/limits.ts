/** What the broker's storage caps read: retained payload bytes (`maxRetainedBytes`) and stored sessions (`maxSessions`). */
import { beforeEach, describe, expect, it } from 'vitest'
import type { Persistence, SessionRecord } from '@wren/core'
import { testMessage } from './fixtures.js'

export function limitTests(store: () => Persistence): void {
  describe('what the storage caps read', () => {
    let p: Persistence

    beforeEach(() => {
      p = store()
    })

    it('counts the payload bytes of retained messages: replacing, clearing and expiring keep the sum right', async () => {
      await p.retainedStore(testMessage('a', 'xxxx', { retain: true }))
      expect(await p.retainedBytes()).toBe(4)
      await p.retainedStore(testMessage('b/c', Buffer.alloc(10), { retain: true }))
      expect(await p.retainedBytes()).toBe(14)
      await p.retainedStore(testMessage('a', 'xx', { retain: true }))
      expect(await p.retainedBytes()).toBe(12)
      await p.retainedStore(testMessage('b/c', '', { retain: true }))
      expect(await p.retainedBytes()).toBe(2)
      await p.retainedStore(testMessage('gone', 'xxx', { retain: true, expiresAt: Date.now() - 1 }))
      expect(await p.retainedBytes()).toBe(5)
      expect(await p.retainedMatch('#')).toHaveLength(1)
      expect(await p.retainedBytes()).toBe(2)
      await p.retainedStore(testMessage('d', 'yyyyy', { retain: true }))
      expect(await p.retainedBytes()).toBe(7)
    })

    it('counts stored sessions: saving again does not add one, deleting removes it', async () => {
      const record = (clientId: string): SessionRecord => ({ clientId, protocolVersion: 4, expiryInterval: 60 })
      expect(await p.sessionCount()).toBe(0)
      await p.sessionSave(record('s1'))
      await p.sessionSave(record('s2'))
      await p.sessionSave({ ...record('s1'), disconnectedAt: Date.now() })
      expect(await p.sessionCount()).toBe(2)
      await p.sessionDelete('s1')
      expect(await p.sessionCount()).toBe(1)
    })
  })
}
