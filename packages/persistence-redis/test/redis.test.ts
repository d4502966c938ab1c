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
        'layout:retained',
        'layout:retained-topics',
        'layout:sequence',
        'layout:sessions',
        'layout:subscribers',
        'layout:subscription-index:a/',
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
    await persistence.subscriptionsAdd('c', [{ filter: 't', qos: 1 }])
    await persistence.outboundEnqueue([{ clientId: 'c', qos: 1 }, { clientId: 'd', qos: 1 }], message)
    await persistence.outboundSent('d', message.id as string, 5)
    await persistence.outboundAck('d', 5)
    await persistence.sessionDelete('c')
    expect((await redis.keys('cleanup:*')).sort()).toEqual(['cleanup:sequence'])
    await redis.quit()
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
})
