import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { Persistence, QoS } from '@wren/core'
import { deliverySuite, persistenceSuite, testMessage } from '@wren/persistence-test-suite'
import { afterAll, describe, expect, it } from 'vitest'
import { MIGRATIONS, createSqlitePersistence } from '@wren/persistence-sqlite'
import { connectClient } from '../../core/test/helpers/clients.js'
import { startBroker } from '../../core/test/helpers/start-broker.js'

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

  it("deletes a shared message body at its batch's commit once no entry holds it, and none of a failed enqueue's", async () => {
    const path = join(dir, 'bodies.db')
    const persistence = createSqlitePersistence({ path })
    const reader = new Database(path, { readonly: true })
    const bodies = reader.prepare<[], number>('SELECT count(*) FROM messages').pluck()
    const delivered = testMessage('t')
    await persistence.outboundEnqueue([{ clientId: 'a', qos: 1 }, { clientId: 'c', qos: 1 }], delivered)
    await persistence.outboundSent('a', delivered.id as string, 1)
    await persistence.outboundRemove('c', delivered.id as string)
    expect(bodies.get()).toBe(1)
    // each failed enqueue's INSERT of an entry fails (qos is NOT NULL): no body of theirs stays
    const failing = { clientId: 'b', qos: null as unknown as QoS }
    const results = await Promise.allSettled([
      persistence.outboundAck('a', 1),
      persistence.outboundEnqueue([failing], testMessage('t')),
      persistence.outboundEnqueue([{ clientId: 'd', qos: 1 }, failing], testMessage('t')),
    ])
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'rejected'])
    expect(bodies.get()).toBe(0)
    expect(await persistence.outboundCount('a')).toBe(0)
    expect(await persistence.outboundCount('d')).toBe(0)
    reader.close()
    await persistence.close()
  })

  it('keeps a shared body that another queue took in the batch that acknowledged its last entry', async () => {
    const path = join(dir, 'retaken.db')
    let persistence = createSqlitePersistence({ path })
    const message = testMessage('t')
    await persistence.outboundEnqueue([{ clientId: 'a', qos: 1 }, { clientId: 'x', qos: 1 }], message)
    await persistence.outboundRemove('x', message.id as string)
    await persistence.outboundSent('a', message.id as string, 7)
    await Promise.all([
      persistence.outboundAck('a', 7),
      persistence.outboundEnqueue([{ clientId: 'b', qos: 1 }, { clientId: 'y', qos: 1 }], message),
    ])
    await persistence.close()
    persistence = createSqlitePersistence({ path })
    expect(await persistence.outboundList('a')).toEqual([])
    expect((await persistence.outboundList('b')).map((entry) => entry.message.payload.toString())).toEqual(['payload'])
    await persistence.close()
  })

  it("writes a one-client message's body into its queue entry only, and a fan-out's once for all", async () => {
    const path = join(dir, 'inline.db')
    const persistence = createSqlitePersistence({ path })
    const reader = new Database(path, { readonly: true })
    const bodies = reader.prepare<[], number>('SELECT count(*) FROM messages').pluck()
    const one = testMessage('t/one', 'one', { properties: { correlationData: Buffer.from('c'), contentType: 'text/plain' } })
    await persistence.outboundEnqueue([{ clientId: 'a', qos: 1 }], one)
    await persistence.outboundEnqueue([{ clientId: 'a', qos: 0, retain: true }], testMessage('t/bounded', 'bounded'), 10, true)
    expect(bodies.get()).toBe(0)
    await persistence.outboundEnqueue([{ clientId: 'a', qos: 1 }, { clientId: 'b', qos: 1 }], testMessage('t/both', 'both'))
    expect(bodies.get()).toBe(1)
    const entries = await persistence.outboundList('a')
    expect(entries.map((entry) => [entry.message.topic, entry.message.payload.toString(), entry.qos, entry.retain])).toEqual([
      ['t/one', 'one', 1, undefined],
      ['t/bounded', 'bounded', 0, true],
      ['t/both', 'both', 1, undefined],
    ])
    expect(entries[0]?.message).toEqual(one)
    reader.close()
    await persistence.close()
  })

  /** A file as schema version 2 left it, its DDL run as that version's adapter ran it. */
  function version2File(name: string): Database.Database {
    const old = new Database(join(dir, name))
    old.pragma('journal_mode = WAL')
    old.pragma('foreign_keys = ON')
    for (const ddl of MIGRATIONS.slice(0, 2)) old.exec(ddl)
    old.pragma('user_version = 2')
    return old
  }

  it('upgrades a file of schema version 2: its queued and in-flight messages come back whole and acknowledge', async () => {
    const path = join(dir, 'version2.db')
    const old = version2File('version2.db')
    // the rows version 2 wrote: every body in `messages`, an entry per client referencing it
    const body = old.prepare(
      `INSERT INTO messages (message_id, topic, payload, qos, retain, origin, expires_at, properties, correlation_data)
       VALUES (?, ?, ?, 1, 0, NULL, NULL, ?, ?)`,
    )
    body.run('m1', 'old/shared', Buffer.from('shared'), null, null)
    body.run('m2', 'old/one', Buffer.from('one'), JSON.stringify({ contentType: 'text/plain' }), Buffer.from('c'))
    const entry = old.prepare(
      'INSERT INTO outbound (client_id, message_id, qos, state, packet_id, subscription_identifiers, retain) VALUES (?, ?, 1, ?, ?, ?, NULL)',
    )
    entry.run('a', 'm1', 'sent', 5, '[3]')
    entry.run('b', 'm1', 'queued', null, null)
    entry.run('a', 'm2', 'queued', null, null)
    old.close()

    const persistence = createSqlitePersistence({ path })
    const a = await persistence.outboundList('a')
    expect(a.map((e) => [e.message.id, e.message.topic, e.message.payload.toString(), e.state, e.packetId, e.subscriptionIdentifiers])).toEqual([
      ['m1', 'old/shared', 'shared', 'sent', 5, [3]],
      ['m2', 'old/one', 'one', 'queued', undefined, undefined],
    ])
    expect(a[1]?.message.properties).toEqual({ contentType: 'text/plain', correlationData: Buffer.from('c') })
    expect((await persistence.outboundList('b')).map((e) => e.message.payload.toString())).toEqual(['shared'])
    // the old entries acknowledge as new ones do, and their bodies go with the last of them
    await persistence.outboundAck('a', 5)
    await persistence.outboundSent('a', 'm2', 6)
    await persistence.outboundAck('a', 6)
    await persistence.outboundEnqueue([{ clientId: 'b', qos: 1 }], testMessage('new/one', 'new'))
    expect((await persistence.outboundList('b')).map((e) => e.message.payload.toString())).toEqual(['shared', 'new'])
    await persistence.outboundRemove('b', 'm1')
    await persistence.close()
    const reader = new Database(path, { readonly: true })
    expect(reader.prepare('SELECT message_id FROM messages').pluck().all()).toEqual([])
    expect(reader.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length)
    reader.close()
  })

  it('delivers every message a version-2 file held queued to the session that returns after the upgrade', async () => {
    const old = version2File('version2-broker.db')
    old
      .prepare('INSERT INTO sessions (client_id, protocol_version, expiry_interval, disconnected_at, broker_id) VALUES (?, 5, 3600, ?, NULL)')
      .run('returning', Date.now())
    old.prepare("INSERT INTO subscriptions (client_id, filter, qos) VALUES ('returning', 'old/#', 1)").run()
    const body = old.prepare(
      `INSERT INTO messages (message_id, topic, payload, qos, retain, origin, expires_at, properties, correlation_data)
       VALUES (?, ?, ?, 1, 0, NULL, NULL, NULL, NULL)`,
    )
    const entry = old.prepare("INSERT INTO outbound (client_id, message_id, qos, state, packet_id) VALUES ('returning', ?, 1, ?, ?)")
    const queued = Array.from({ length: 5 }, (_, n) => `q${n}`)
    for (const [n, payload] of queued.entries()) {
      body.run(payload, `old/${n}`, Buffer.from(payload))
      entry.run(payload, n === 0 ? 'sent' : 'queued', n === 0 ? 1 : null)
    }
    old.close()

    const persistence = createSqlitePersistence({ path: join(dir, 'version2-broker.db') })
    const { url } = await startBroker({ sysInterval: 0, persistence })
    const { inbox, connack } = await connectClient(url, {
      protocolVersion: 5,
      clientId: 'returning',
      clean: false,
      properties: { sessionExpiryInterval: 3600 },
    })
    expect(connack.sessionPresent).toBe(true)
    const delivered = await inbox.take(queued.length, () => true, 10_000, 'the queued messages')
    expect(delivered.map((message) => message.payload.toString())).toEqual(queued)
    expect(delivered.map((message) => message.topic)).toEqual(queued.map((_, n) => `old/${n}`))
    // the in-flight one is sent again as a duplicate [MQTT-4.4.0-1]
    expect(delivered[0]?.dup).toBe(true)
    await expect.poll(() => persistence.outboundCount('returning')).toBe(0)
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
