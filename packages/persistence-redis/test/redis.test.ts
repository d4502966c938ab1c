import { Redis } from 'ioredis'
import type { Persistence } from '@wren/core'
import { deliverySuite, persistenceSuite, testMessage } from '@wren/persistence-test-suite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedisPersistence } from '@wren/persistence-redis'
import { type RedisServer, startRedisServer } from './redis-server.js'

let server: RedisServer
const prefixes = new WeakMap<Persistence, string>()
let tenants = 0

beforeAll(async () => {
  server = await startRedisServer()
})

afterAll(async () => {
  await server?.stop()
})

/** Each store gets its own prefix: the tests double as a check that tenants sharing one Redis stay apart. */
function open(prefix: string): Persistence {
  const persistence = createRedisPersistence({ url: server.url, prefix })
  prefixes.set(persistence, prefix)
  return persistence
}

persistenceSuite('redis', async () => open(`suite-${++tenants}:`), {
  reopen: async (persistence) => {
    const prefix = prefixes.get(persistence) as string
    await persistence.close()
    return open(prefix)
  },
})

deliverySuite('redis', async () => open(`delivery-${++tenants}:`))

describe('redis layout', () => {
  it('keeps every key under the prefix and leaves a client passed in open', async () => {
    const redis = new Redis(server.url)
    const persistence = createRedisPersistence({ redis, prefix: 'layout:' })
    const message = testMessage('a/b', 'x')
    await persistence.retainedStore({ ...message, retain: true })
    await persistence.sessionSave({ clientId: 'c', protocolVersion: 5, expiryInterval: 60 })
    await persistence.subscriptionsAdd('c', [{ filter: 'a/+', qos: 1 }])
    await persistence.outboundEnqueue([{ clientId: 'c', qos: 1 }], message)
    await persistence.outboundSent('c', message.id as string, 1)
    await persistence.incomingAdd('c', 2)
    await persistence.willPut({ clientId: 'c', delayInterval: 0, message })
    await persistence.close()
    const keys = await redis.keys('layout:*')
    expect(keys.sort()).toEqual(
      [
        'layout:delivery:c',
        'layout:incoming:c',
        'layout:inflight:c',
        `layout:message:${message.id}`,
        'layout:queue:c',
        'layout:queue-bytes:c',
        'layout:retained',
        'layout:retained-topics',
        'layout:sequence',
        'layout:sessions',
        'layout:subscribers',
        'layout:subscriptions:c',
        'layout:wills',
      ].sort(),
    )
    const stored = await redis.hgetBuffer('layout:retained', 'a/b')
    expect(stored?.includes(Buffer.from('x'))).toBe(true)
    await redis.quit()
  })

  it('leaves no key behind once a session is deleted and its queue acked', async () => {
    const redis = new Redis(server.url)
    const persistence = createRedisPersistence({ redis, prefix: 'cleanup:' })
    const message = testMessage('t')
    await persistence.subscriptionsAdd('c', [
      { filter: 't', qos: 1 },
      { filter: '$share/g/s/#', qos: 1 },
    ])
    // a client id outside ASCII, in key names too
    await persistence.subscriptionsAdd('ü😀', [{ filter: 'a/+/c', qos: 1 }])
    await persistence.outboundEnqueue([{ clientId: 'c', qos: 1 }, { clientId: 'd', qos: 1 }], message)
    await persistence.outboundSent('d', message.id as string, 5)
    await persistence.outboundAck('d', 5)
    await persistence.sessionDelete('c')
    await persistence.sessionDelete('ü😀')
    expect((await redis.keys('cleanup:*')).sort()).toEqual(['cleanup:sequence'])
    await redis.quit()
  })

  it('loads its scripts again on a reconnect, so writes made meanwhile apply in call order', async () => {
    const redis = new Redis(server.url)
    const admin = new Redis(server.url)
    const persistence = createRedisPersistence({ redis, prefix: 'reload:' })
    const first = testMessage('t')
    const second = testMessage('t')
    await persistence.outboundEnqueue([{ clientId: 'c', qos: 1 }], first)
    const id = await redis.client('ID')
    const closed = new Promise<void>((resolve) => redis.once('close', () => resolve()))
    // what a restarted Redis looks like to the client: a dropped connection and no scripts
    await admin.script('FLUSH')
    await admin.client('KILL', 'ID', String(id))
    await closed
    // issued without waiting while the client reconnects; packet id 1 is acked, then reused
    await Promise.all([
      persistence.outboundSent('c', first.id as string, 1),
      persistence.outboundAck('c', 1),
      persistence.outboundEnqueue([{ clientId: 'c', qos: 1 }], second),
      persistence.outboundSent('c', second.id as string, 1),
    ])
    const entries = await persistence.outboundList('c')
    expect(entries.map((entry) => [entry.message.id, entry.state, entry.packetId])).toEqual([[second.id, 'sent', 1]])
    await persistence.close()
    await Promise.all([redis.quit(), admin.quit()])
  })

  it('stores queued messages once, whatever the number of queues', async () => {
    const redis = new Redis(server.url)
    const persistence = createRedisPersistence({ redis, prefix: 'once:' })
    const clients = Array.from({ length: 200 }, (_, i) => ({ clientId: `c${i}`, qos: 1 as const }))
    const message = testMessage('t', Buffer.alloc(4096))
    expect(await persistence.outboundEnqueue(clients, message, 10)).toEqual([])
    expect(await redis.keys('once:message:*')).toHaveLength(1)
    expect(await redis.hget(`once:message:${message.id}`, 'refs')).toBe('200')
    await redis.quit()
  })

  it('lists a queue whose message key was lost outside the adapter without that entry', async () => {
    const redis = new Redis(server.url)
    const persistence = createRedisPersistence({ redis, prefix: 'lost:' })
    const [kept, evicted] = [testMessage('t', 'kept'), testMessage('t', 'evicted')]
    await persistence.outboundEnqueue([{ clientId: 'c', qos: 1 }], evicted)
    await persistence.outboundEnqueue([{ clientId: 'c', qos: 2, retain: true, subscriptionIdentifiers: [7] }], kept)
    await persistence.outboundSent('c', kept.id as string, 3)
    await redis.del(`lost:message:${evicted.id}`)
    const entries = await persistence.outboundList('c')
    expect(entries).toEqual([{ message: kept, qos: 2, retain: true, subscriptionIdentifiers: [7], state: 'sent', packetId: 3 }])
    await redis.quit()
  })

  it("sends a turn's queue writes as one script call, behind the commands before it and ahead of those after", async () => {
    const redis = new Redis(server.url)
    const admin = new Redis(server.url)
    const persistence = createRedisPersistence({ redis, prefix: 'batch:' })
    await persistence.sessionCount()
    const evalshaCalls = async (): Promise<number> => Number(/cmdstat_evalsha:calls=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? 0)
    await admin.config('RESETSTAT')
    const messages = Array.from({ length: 50 }, () => testMessage('t'))
    const writes: Array<Promise<unknown>> = []
    messages.forEach((message, i) => {
      writes.push(persistence.outboundEnqueue([{ clientId: 'c', qos: 1 }], message, 40))
      writes.push(persistence.outboundSent('c', message.id as string, i + 1))
      if (i % 2 === 0) writes.push(persistence.outboundAck('c', i + 1))
    })
    // Issued in the same turn, after the writes: it must see all of them.
    const counted = persistence.outboundCount('c')
    const settled = await Promise.all(writes)
    expect(await counted).toBe(25)
    expect(await evalshaCalls()).toBe(1)
    // The acked half was called off before the batch left: their enqueues never ran (each takes a sequence number).
    expect(await redis.get('batch:sequence')).toBe('25')
    expect(await redis.keys('batch:message:*')).toHaveLength(25)
    // Enqueues resolve to the clients they lost a message for: the queue held 40 at most, with every other entry acked.
    const lost = settled.filter((value): value is string[] => Array.isArray(value) && value.length > 0)
    expect(lost).toEqual([])
    const entries = await persistence.outboundList('c')
    expect(entries.map((entry) => entry.packetId)).toEqual(messages.map((_, i) => i + 1).filter((id) => id % 2 === 0))
    await persistence.close()
    await Promise.all([redis.quit(), admin.quit()])
  })

  it('cuts a batch past maxBatchBytes into several script calls, every write applied in call order', async () => {
    const redis = new Redis(server.url)
    const admin = new Redis(server.url)
    const persistence = createRedisPersistence({ redis, prefix: 'cut:', maxBatchBytes: 4096 })
    await persistence.sessionCount()
    await admin.config('RESETSTAT')
    // 12 KiB of payload in one turn, over a 4 KiB cut: at least three batches where one would carry them all.
    const messages = Array.from({ length: 12 }, (_, i) => testMessage('t', Buffer.alloc(1024, i)))
    const writes: Array<Promise<unknown>> = []
    messages.forEach((message, i) => {
      writes.push(persistence.outboundEnqueue([{ clientId: 'c', qos: 1 }], message))
      writes.push(persistence.outboundSent('c', message.id as string, i + 1))
      if (i % 3 === 0) writes.push(persistence.outboundAck('c', i + 1))
    })
    await Promise.all(writes)
    const calls = Number(/cmdstat_evalsha:calls=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? 0)
    expect(calls).toBeGreaterThanOrEqual(3)
    const entries = await persistence.outboundList('c')
    const kept = messages.filter((_, i) => i % 3 !== 0)
    expect(entries.map((entry) => [entry.message.id, entry.state, entry.packetId, entry.message.payload[0]])).toEqual(
      kept.map((message) => [message.id, 'sent', messages.indexOf(message) + 1, messages.indexOf(message)]),
    )
    await persistence.close()
    await Promise.all([redis.quit(), admin.quit()])
  })

  it('refuses a maxBatchBytes that is not a positive number', () => {
    expect(() => createRedisPersistence({ url: server.url, maxBatchBytes: 0 })).toThrow(RangeError)
  })

  it('resolves each enqueue of a batch to the clients it lost the message for, around writes called off', async () => {
    const redis = new Redis(server.url)
    const persistence = createRedisPersistence({ redis, prefix: 'batch-lost:' })
    const delivered = testMessage('t')
    const called = [
      persistence.outboundEnqueue([{ clientId: 'a', qos: 1 }], delivered, 2),
      persistence.outboundSent('a', delivered.id as string, 7),
      persistence.outboundAck('a', 7),
    ]
    const results = await Promise.all(
      Array.from({ length: 4 }, () => persistence.outboundEnqueue([{ clientId: 'a', qos: 1 }, { clientId: 'b', qos: 1 }], testMessage('t'), 2)),
    )
    expect(await Promise.all(called)).toEqual([[], undefined, undefined])
    expect(results).toEqual([[], [], ['a', 'b'], ['a', 'b']])
    expect(await persistence.outboundCount('a')).toBe(2)
    await persistence.close()
    await redis.quit()
  })

  it("calls off only a one-client delivery whose own client acked it, never a QoS 2 delivery's", async () => {
    const redis = new Redis(server.url)
    const persistence = createRedisPersistence({ redis, prefix: 'batch-off:' })
    const kept = testMessage('t')
    const exactlyOnce = testMessage('t')
    await Promise.all([
      persistence.outboundEnqueue([{ clientId: 'a', qos: 1 }], kept),
      persistence.outboundSent('a', kept.id as string, 1),
      // the same packet id, acked by another client
      persistence.outboundAck('b', 1),
      persistence.outboundEnqueue([{ clientId: 'a', qos: 2 }], exactlyOnce),
      persistence.outboundSent('a', exactlyOnce.id as string, 2),
      persistence.outboundReleased('a', 2),
      persistence.outboundAck('a', 2),
    ])
    expect(await redis.get('batch-off:sequence')).toBe('2')
    const entries = await persistence.outboundList('a')
    expect(entries.map((entry) => [entry.message.id, entry.state, entry.packetId])).toEqual([[kept.id, 'sent', 1]])
    await persistence.close()
    await redis.quit()
  })

  it('removes a queued message marked sent and acked in one batch by its id: no sent written, no key left', async () => {
    const redis = new Redis(server.url)
    const admin = new Redis(server.url)
    const persistence = createRedisPersistence({ redis, prefix: 'drained:' })
    const [resent, fresh] = [testMessage('t'), testMessage('t')]
    await persistence.outboundEnqueue([{ clientId: 'a', qos: 1 }], resent)
    await persistence.outboundEnqueue([{ clientId: 'a', qos: 1 }], fresh)
    // in flight under another packet id before, as from an earlier connection
    await persistence.outboundSent('a', resent.id as string, 5)
    await admin.config('RESETSTAT')
    await Promise.all([
      persistence.outboundSent('a', resent.id as string, 9),
      persistence.outboundAck('a', 9),
      persistence.outboundSent('a', fresh.id as string, 10),
      persistence.outboundAck('a', 10),
    ])
    const stats = await admin.info('commandstats')
    expect(stats).toMatch(/cmdstat_evalsha:calls=1,/)
    // a sent write sets the delivery's inflight fields: none was applied
    expect(stats).not.toMatch(/cmdstat_hset:/)
    expect(await redis.keys('drained:*')).toEqual(['drained:sequence'])
    await persistence.close()
    await Promise.all([redis.quit(), admin.quit()])
  })

  it('sends the next batch behind one Redis has not answered, so a write waits for its own command only', async () => {
    const hung = await startRedisServer()
    const redis = new Redis(hung.url, { commandTimeout: 20_000 })
    const persistence = createRedisPersistence({ redis, prefix: 'hung:' })
    try {
      await persistence.sessionCount()
      const socket = redis.stream
      /** Resolves once more bytes than `since` were handed to the socket: a batch was sent. Bounded in tries. */
      const sentBeyond = async (since: number): Promise<void> => {
        for (let tries = 0; socket.bytesWritten <= since; tries++) {
          if (tries === 500) throw new Error('no batch sent')
          await new Promise((resolve) => setTimeout(resolve, 10))
        }
      }
      hung.pause()
      let firstAnswered = false
      const first = persistence.outboundEnqueue([{ clientId: 'c', qos: 1 }], testMessage('t')).finally(() => {
        firstAnswered = true
      })
      await sentBeyond(socket.bytesWritten)
      const second = persistence.outboundEnqueue([{ clientId: 'c', qos: 1 }], testMessage('t'))
      await sentBeyond(socket.bytesWritten)
      expect(firstAnswered).toBe(false)
      hung.resume()
      expect(await Promise.all([first, second])).toEqual([[], []])
      expect(await persistence.outboundCount('c')).toBe(2)
      await persistence.close()
    } finally {
      redis.disconnect()
      await hung.stop()
    }
  })
})
