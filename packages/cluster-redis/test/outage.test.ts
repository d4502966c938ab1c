/**
 * A Redis outage between two nodes: messages acknowledged to their publisher on node A while Redis does not answer
 * must still reach the subscriber on node B, in order, when Redis is back, and not twice. Two brokers in this
 * process on real sockets, one real redis-server (append-only file) that the tests kill and start again on its
 * port, or stop (SIGSTOP) and let go on.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import type { Logger, Message, OutboundTarget } from '@wren/core'
import { createRedisPersistence, RedisPersistence } from '@wren/persistence-redis'
import { connectClient, type TestClient } from '../../core/test/helpers/clients.js'
import { startBroker, type StartedBroker } from '../../core/test/helpers/start-broker.js'
import { startRedisServer, type RedisServer } from '../../persistence-redis/test/redis-server.js'
import { createRedisCluster, type RedisClusterBus, type RedisClusterOptions } from '../src/index.js'

let redis: RedisServer

beforeAll(async () => {
  redis = await startRedisServer({ appendOnly: true })
})

afterAll(async () => {
  await redis?.stop()
})

/** Polls `ready` every 10 ms; fails with `what` after the timeout. */
async function until(ready: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** A logger that counts the bus operations that failed, per action, and the debug lines, per message. */
function failures(): { logger: Logger; count: (action: string) => number; debugs: (message: string) => number } {
  const counts = new Map<string, number>()
  const lines = new Map<string, number>()
  const ignore = (): void => {}
  const logger: Logger = {
    debug: (_fields: unknown, message?: string) => {
      if (message !== undefined) lines.set(message, (lines.get(message) ?? 0) + 1)
    },
    info: ignore,
    error: ignore,
    warn: (fields: unknown) => {
      const action = (fields as { action?: string }).action
      if (action !== undefined) counts.set(action, (counts.get(action) ?? 0) + 1)
    },
  }
  return { logger, count: (action) => counts.get(action) ?? 0, debugs: (message) => lines.get(message) ?? 0 }
}

interface ClusterNode extends StartedBroker {
  bus: RedisClusterBus
}

async function twoNodes(prefix: string, cluster: Partial<RedisClusterOptions>, storeOfA?: RedisPersistence): Promise<[ClusterNode, ClusterNode]> {
  const node = async (nodeId: string, store = createRedisPersistence({ url: redis.url, prefix })): Promise<ClusterNode> => {
    // A lease far longer than the outage: nobody is declared dead, this is about the forwards alone.
    const bus = createRedisCluster({ url: redis.url, prefix: `${prefix}cluster:`, nodeId, leaseMs: 60_000, heartbeatMs: 500, ...cluster })
    return { ...(await startBroker({ persistence: store, cluster: bus })), bus }
  }
  return [await node('a', storeOfA), await node('b')]
}

describe('messages queued in the store for a session connected to another node', () => {
  it('a forward that reaches a node after its client moved on is queued there and sent on to the node the client is on, at once, in order, once', { timeout: 60_000 }, async () => {
    const [a, b] = await twoNodes('moved:', {})
    // MQTT 5, one message in flight at a time: what is picked up from the store goes through the session's window.
    const subscribe = { clientId: 'moved-sub', clean: false, protocolVersion: 5 as const, properties: { sessionExpiryInterval: 600, receiveMaximum: 1 } }
    const subscriber = await connectClient(a.url, subscribe)
    await subscriber.client.subscribeAsync('moved/#', { qos: 2 })
    await until(() => b.bus.ownerOf('moved-sub') === 'a', 'node B to see the subscriber on node A')
    // Node A's bus forwards to node B as a node whose view is one hop behind a takeover would: B no longer holds the
    // client, so it queues the messages in the store, and the client is connected to A.
    const qos = [1, 2, 1, 2] as const
    for (const [i, q] of qos.entries()) a.bus.forward('b', { topic: 'moved/t', payload: Buffer.from(String(i)), qos: q, retain: false }, [{ clientId: 'moved-sub', qos: q, retain: false }])
    await subscriber.inbox.take(qos.length, (m) => m.topic === 'moved/t', 30_000, 'the messages queued by node B')
    const publisher = await connectClient(a.url, { protocolVersion: 5 })
    await publisher.client.publishAsync('moved/end', 'end', { qos: 2 })
    await subscriber.inbox.next((m) => m.topic === 'moved/end', 30_000, 'a live message after them')
    expect(subscriber.inbox.received.map((m) => `${m.payload.toString()}:${m.qos}`)).toEqual(['0:1', '1:2', '2:1', '3:2', 'end:2'])

    // Acknowledged and gone from the store: resuming the session brings none of them again.
    subscriber.client.end()
    await subscriber.closed
    const resumed = await connectClient(b.url, subscribe)
    await publisher.client.publishAsync('moved/end', 'end again', { qos: 2 })
    await resumed.inbox.next((m) => m.topic === 'moved/end', 30_000, 'a live message after the resumption')
    expect(resumed.inbox.received.map((m) => m.payload.toString())).toEqual(['end again'])
  })
})

describe('a Redis outage between cluster nodes', () => {
  it('forwards whose PUBLISH failed go out again when Redis is back: every acknowledged message arrives, in order; past the bound the publisher is held', { timeout: 60_000 }, async () => {
    const { logger, count: failed } = failures()
    // ioredis gives up on a command after one reconnection attempt; the backlog bound is a few forwards' worth.
    const [a, b] = await twoNodes('outage1:', { logger, redis: { maxRetriesPerRequest: 1 }, forwardBacklogBytes: 4096 })
    const subscribe = { clientId: 'outage-sub', clean: false, protocolVersion: 4 as const }
    const subscriber = await connectClient(b.url, subscribe)
    await subscriber.client.subscribeAsync('out/#', { qos: 1 })
    await until(() => a.broker.admin.subscriptions({ clientId: 'outage-sub' }).length > 0, 'the subscription to reach node A')
    const publisher = await connectClient(a.url, { clientId: 'outage-pub' })

    await redis.kill()
    const total = 200
    let acked = 0
    for (let i = 0; i < total; i++) publisher.client.publish('out/t', String(i), { qos: 1 }, (error) => error || acked++)
    // Messages are acknowledged while Redis is away (their PUBACKs may reach the client after the failure is
    // logged: both are waited for), and the publisher is held once the backlog is over its bound.
    await until(() => failed('forward') > 0 && acked > 0, 'a forward\'s PUBLISH to fail and a message to be acknowledged')
    expect(acked).toBeLessThan(total)
    await redis.restart()

    // Both nodes lost their subscription to Redis: they let their clients go, to resume from the store.
    await Promise.all([subscriber.closed, publisher.closed])
    const resumed = await connectClient(b.url, subscribe)
    const again = await connectClient(a.url, { clientId: 'outage-pub' })
    await again.client.publishAsync('out/end', 'end', { qos: 1 })
    // Every acknowledged message arrives, in order on each connection (QoS 1 may repeat one on resumption), without
    // another resumption: a frame sent again before B had subscribed again reached nobody, so node A queued its
    // forwards in the store, and if the subscriber had resumed before that write landed, node A told node B, which
    // sent them on.
    const numbers = (client: TestClient): number[] => client.inbox.received.filter((m) => m.topic === 'out/t').map((m) => Number(m.payload))
    const clients = [subscriber, resumed]
    const missing = (): number[] => Array.from({ length: acked }, (_, i) => i).filter((i) => !clients.some((c) => numbers(c).includes(i)))
    await until(() => missing().length === 0 && resumed.inbox.received.some((m) => m.topic === 'out/end'), 'every acknowledged message and the last one')
    for (const client of clients) {
      const order = [...new Set(numbers(client))]
      expect(order).toEqual([...order].sort((x, y) => x - y))
    }
  })

  it('a node stopped while the bus\'s Redis is down queues the forwards Redis did not take in the store: the subscriber gets them when it resumes', { timeout: 60_000 }, async () => {
    // The bus on a Redis of its own, the store on the shared one: the store answers while the bus cannot.
    const busRedis = await startRedisServer({ appendOnly: true })
    onTestFinished(() => busRedis.stop())
    const [a, b] = await twoNodes('stopped:', { url: busRedis.url })
    const subscribe = { clientId: 'stopped-node-sub', clean: false, protocolVersion: 4 as const }
    const subscriber = await connectClient(b.url, subscribe)
    await subscriber.client.subscribeAsync('gone/#', { qos: 2 })
    await until(() => a.broker.admin.subscriptions({ clientId: 'stopped-node-sub' }).length > 0, 'the subscription to reach node A')
    const publisher = await connectClient(a.url)

    await busRedis.kill()
    const sent = ['1', '2', '3', '4']
    // Acknowledged once routed: their frame waits for the bus's Redis.
    for (const text of sent) await publisher.client.publishAsync('gone/t', text, { qos: 2 })
    await a.close()
    await busRedis.restart()

    // Node B's subscription to the bus dropped: it lets the subscriber go, to resume from the store.
    await subscriber.closed
    const resumed = await connectClient(b.url, subscribe)
    await resumed.inbox.take(sent.length, (m) => m.topic === 'gone/t', 30_000, 'the messages node A queued as it stopped')
    expect(resumed.inbox.received.map((m) => m.payload.toString())).toEqual(sent)
  })

  it('a message a node queued for a session it saw offline, stored after the client resumed on another node, is sent on there', { timeout: 60_000 }, async () => {
    const clientId = 'late-sub'
    let enqueueing: () => void = () => {}
    const routed = new Promise<void>((resolve) => (enqueueing = resolve))
    let land: () => void = () => {}
    const landed = new Promise<void>((resolve) => (land = resolve))
    // Node A's store takes the message's write only once the client has resumed on node B: a write that lands late.
    class LateStore extends RedisPersistence {
      override async outboundEnqueue(targets: OutboundTarget[], message: Message, limit?: number, dropOldest?: boolean, byteLimit?: number): Promise<string[]> {
        if (targets.some((t) => t.clientId === clientId)) {
          enqueueing()
          await landed
        }
        return super.outboundEnqueue(targets, message, limit, dropOldest, byteLimit)
      }
    }
    const [a, b] = await twoNodes('late:', {}, new LateStore({ url: redis.url, prefix: 'late:' }))
    const subscribe = { clientId, clean: false, protocolVersion: 4 as const }
    const first = await connectClient(b.url, subscribe)
    await first.client.subscribeAsync('late/#', { qos: 1 })
    first.client.end()
    await first.closed
    await until(() => a.broker.admin.subscriptions({ clientId }).length > 0 && a.bus.ownerOf(clientId) === undefined, 'node A to see the subscriber offline')

    const publisher = await connectClient(a.url)
    const acked = publisher.client.publishAsync('late/t', 'late', { qos: 1 })
    await routed
    const resumed = await connectClient(b.url, subscribe)
    land()
    await acked
    expect((await resumed.inbox.next((m) => m.topic === 'late/t', 30_000, 'the message stored after the resumption')).payload.toString()).toBe('late')
  })

  it('a frame is not sent again while Redis hangs with the connection open: it is delivered once, with no copies to drop', { timeout: 60_000 }, async () => {
    const { logger, count: failed, debugs } = failures()
    // ioredis rejects a command after 300 ms, though it stays on the socket and a stopped Redis runs it on SIGCONT.
    const [a, b] = await twoNodes('outage2:', { logger, redis: { commandTimeout: 300 } })
    const subscriber = await connectClient(b.url, { clientId: 'stopped-sub', protocolVersion: 5 })
    await subscriber.client.subscribeAsync('stop/#', { qos: 2 })
    await until(() => a.broker.admin.subscriptions({ clientId: 'stopped-sub' }).length > 0, 'the subscription to reach node A')
    const publisher = await connectClient(a.url, { protocolVersion: 5 })

    redis.pause()
    const total = 50
    // Acknowledged once routed: their frame is on its way to the stopped Redis.
    await Promise.all(Array.from({ length: total }, (_, i) => publisher.client.publishAsync('stop/t', String(i), { qos: 2 })))
    // Four heartbeats time out meanwhile: the old build sent the frame again every heartbeatMs after its timeout.
    const heartbeats = failed('heartbeat')
    await until(() => failed('heartbeat') >= heartbeats + 4, 'four heartbeats to time out')
    redis.resume()

    await publisher.client.publishAsync('stop/end', 'end', { qos: 2 })
    await subscriber.inbox.next((m) => m.topic === 'stop/end', 30_000, 'the last message')
    // Exactly once, in order, and node B had no copy of a frame to drop.
    expect(subscriber.inbox.received.map((m) => m.payload.toString())).toEqual([...Array.from({ length: total }, (_, i) => String(i)), 'end'])
    expect(debugs('cluster frame had already: dropped')).toBe(0)
    expect(failed('forward')).toBe(0)
  })
})
