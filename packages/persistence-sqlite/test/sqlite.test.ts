import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { Persistence, QoS } from '@wren/core'
import { deliverySuite, persistenceSuite, testMessage } from '@wren/persistence-test-suite'
import { afterAll, describe, expect, it } from 'vitest'
import { MIGRATIONS, createSqlitePersistence } from '@wren/persistence-sqlite'

const dir = mkdtempSync(join(tmpdir(), 'wren-sqlite-'))
const paths = new WeakMap<Persistence, string>()
let files = 0

afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

function open(path: string): Persistence {
  const persistence = createSqlitePersistence({ path })
  paths.set(persistence, path)
  return persistence
}

persistenceSuite('sqlite', async () => open(join(dir, `suite-${++files}.db`)), {
  reopen: async (persistence) => {
    const path = paths.get(persistence) as string
    await persistence.close()
    return open(path)
  },
})

deliverySuite('sqlite', async () => open(join(dir, `delivery-${++files}.db`)))

describe('sqlite file', () => {
  it('is in WAL mode at the latest schema version', async () => {
    const path = join(dir, 'schema.db')
    await createSqlitePersistence({ path }).close()
    const db = new Database(path, { readonly: true })
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length)
    db.close()
  })

  it('refuses a file written by a newer schema', () => {
    const path = join(dir, 'newer.db')
    const db = new Database(path)
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`)
    db.close()
    expect(() => createSqlitePersistence({ path })).toThrow(/newer than this adapter/)
  })

  it('drops a queued message body once no queue references it', async () => {
    const path = join(dir, 'refs.db')
    const persistence = createSqlitePersistence({ path })
    const message = { id: 'm1', topic: 't', payload: Buffer.from('x'), qos: 1 as const, retain: false }
    await persistence.outboundEnqueue([{ clientId: 'a', qos: 1 }, { clientId: 'b', qos: 1 }], message)
    await persistence.outboundEnqueue([{ clientId: 'c', qos: 1 }], { ...message, id: 'm2' }, 0)
    const db = new Database(path, { readonly: true })
    const count = db.prepare('SELECT count(*) FROM messages').pluck()
    expect(count.get()).toBe(1)
    await persistence.outboundRemove('a', 'm1')
    expect(count.get()).toBe(1)
    await persistence.sessionDelete('b')
    expect(count.get()).toBe(0)
    db.close()
    await persistence.close()
  })

  it('resolves each write of a turn only once their shared transaction is committed', async () => {
    const path = join(dir, 'group.db')
    const persistence = createSqlitePersistence({ path })
    const reader = new Database(path, { readonly: true })
    const stored = reader.prepare<[string], number>('SELECT count(*) FROM outbound WHERE client_id = ?').pluck()
    const messages = Array.from({ length: 50 }, () => testMessage('t'))
    const visibleOnResolve = await Promise.all(
      messages.map((message, i) =>
        persistence.outboundEnqueue([{ clientId: 'c', qos: 1 }], message).then(() => {
          // another connection sees only committed rows
          const count = stored.get('c')
          return i === 0 ? count : undefined
        }),
      ),
    )
    expect(visibleOnResolve[0]).toBe(messages.length)
    reader.close()
    await persistence.close()
  })

  it("deletes a message body at its batch's commit once no entry holds it, even after a failed enqueue", async () => {
    const path = join(dir, 'bodies.db')
    const persistence = createSqlitePersistence({ path })
    const reader = new Database(path, { readonly: true })
    const bodies = reader.prepare<[], number>('SELECT count(*) FROM messages').pluck()
    const delivered = testMessage('t')
    await persistence.outboundEnqueue([{ clientId: 'a', qos: 1 }], delivered)
    await persistence.outboundSent('a', delivered.id as string, 1)
    expect(bodies.get()).toBe(1)
    // the entry's INSERT fails (qos is NOT NULL) after its body was written: neither caller's body stays
    const results = await Promise.allSettled([
      persistence.outboundAck('a', 1),
      persistence.outboundEnqueue([{ clientId: 'b', qos: null as unknown as QoS }], testMessage('t')),
    ])
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected'])
    expect(bodies.get()).toBe(0)
    expect(await persistence.outboundCount('a')).toBe(0)
    reader.close()
    await persistence.close()
  })

  it('keeps a body that another queue took in the batch that acknowledged its last entry', async () => {
    const path = join(dir, 'retaken.db')
    let persistence = createSqlitePersistence({ path })
    const message = testMessage('t')
    await persistence.outboundEnqueue([{ clientId: 'a', qos: 1 }], message)
    await persistence.outboundSent('a', message.id as string, 7)
    await Promise.all([persistence.outboundAck('a', 7), persistence.outboundEnqueue([{ clientId: 'b', qos: 1 }], message)])
    await persistence.close()
    persistence = createSqlitePersistence({ path })
    expect(await persistence.outboundList('a')).toEqual([])
    expect((await persistence.outboundList('b')).map((entry) => entry.message.payload.toString())).toEqual(['payload'])
    await persistence.close()
  })

  it('fails only the write whose statement failed, not the rest of its turn', async () => {
    const path = join(dir, 'isolated.db')
    let persistence = createSqlitePersistence({ path })
    // a NOT NULL constraint fails inside SQLite, after the transaction has begun
    const noTopic = { ...testMessage('x'), retain: true, topic: null as unknown as string }
    const results = await Promise.allSettled([
      persistence.sessionSave({ clientId: 'a', protocolVersion: 5, expiryInterval: 60 }),
      persistence.retainedStore(noTopic),
      persistence.sessionSave({ clientId: 'b', protocolVersion: 5, expiryInterval: 60 }),
    ])
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    await persistence.close()
    persistence = createSqlitePersistence({ path })
    expect((await persistence.sessionList()).map((record) => record.clientId).sort()).toEqual(['a', 'b'])
    await persistence.close()
  })
})
