import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { Persistence } from '@wren/core'
import { deliverySuite, persistenceSuite } from '@wren/persistence-test-suite'
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
})
