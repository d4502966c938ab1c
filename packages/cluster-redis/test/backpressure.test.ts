/**
 * Backpressure across nodes: two brokers in this process on one real redis-server, a QoS 1 publisher on node A and
 * subscribers on node B. A full session on B holds A's publisher as a local one would: nothing acknowledged is lost,
 * B keeps no more than a hop's worth over its bound, unrelated traffic flows, and a subscriber that never reads is
 * disconnected after drainTimeout and holds nobody.
 */
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BrokerOptions } from '@wren/core'
import { createRedisPersistence } from '@wren/persistence-redis'
import { connectClient, RawClient, type TestClient } from '../../core/test/helpers/clients.js'
import { rawConnectV5 } from '../../core/test/helpers/v5.js'
import { startBroker, type StartedBroker } from '../../core/test/helpers/start-broker.js'
import { startRedisServer, type RedisServer } from '../../persistence-redis/test/redis-server.js'
import { createRedisCluster } from '../src/index.js'

let redis: RedisServer
let prefixes = 0

beforeAll(async () => {
  redis = await startRedisServer()
})

afterAll(async () => {
  await redis?.stop()
})

/** Nodes A and B of a fresh cluster (their own prefix on the shared redis-server). */
async function twoNodes(options: BrokerOptions): Promise<[StartedBroker, StartedBroker]> {
  const prefix = `bp${++prefixes}:`
  const node = (nodeId: string): Promise<StartedBroker> =>
    startBroker({
      ...options,
      persistence: createRedisPersistence({ url: redis.url, prefix }),
      cluster: createRedisCluster({ url: redis.url, prefix: `${prefix}cluster:`, nodeId, leaseMs: 10_000, heartbeatMs: 1000 }),
    })
  return [await node('a'), await node('b')]
}

/** Polls `ready` every 10 ms; fails with `what` after the timeout. */
async function until(ready: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Node `at` routes to `clientId`'s subscription made on another node. */
const knows = (at: StartedBroker, clientId: string): Promise<void> =>
  until(() => at.broker.admin.subscriptions({ clientId }).length > 0, `${clientId}'s subscription to reach the other node`)

/** The next `count` messages a client receives on topics starting with `prefix`, their payloads in arrival order. */
async function received(client: TestClient, prefix: string, count: number): Promise<string[]> {
  const messages = await client.inbox.take(count, (m) => m.topic.startsWith(prefix), 60_000, `messages on ${prefix}`)
  return messages.map((m) => m.payload.toString())
}

/** Publishes `count` QoS 1 messages without waiting for any ack; counts the acks as they come. */
function flood(client: MqttClient, topic: string, count: number, size = 0): { acked: () => number; all: Promise<unknown> } {
  let acked = 0
  const padding = 'x'.repeat(size)
  const all = Promise.all(Array.from({ length: count }, (_, i) => client.publishAsync(topic, `${i}:${padding}`, { qos: 1 }).then(() => acked++)))
  return { acked: () => acked, all }
}

const ordered = (count: number): string[] => Array.from({ length: count }, (_, i) => String(i))
const numbers = (payloads: string[]): string[] => payloads.map((payload) => payload.slice(0, payload.indexOf(':')))

describe('backpressure across cluster nodes', () => {
  for (const { name, fields } of [
    { name: 'MQTT 5, clean session', fields: { protocolVersion: 5 as const, clean: true } },
    { name: 'MQTT 3.1.1, persistent session', fields: { protocolVersion: 4 as const, clean: false } },
  ]) {
    it(`a subscriber on B that does not acknowledge holds the QoS 1 publisher on A; nothing is lost (${name})`, { timeout: 120_000 }, async () => {
      const maxQueued = 50
      const [a, b] = await twoNodes({ maxQueued, maxInflight: 10, drainTimeout: 600_000 })
      const clientId = `never-acks-${fields.protocolVersion}`
      const { raw } = fields.protocolVersion === 5 ? await rawConnectV5(b.port, { clientId, ...fields }) : await RawClient.connect(b.port, { clientId, ...fields })
      raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'held/#', qos: 1 }] })
      await raw.next('suback')
      await knows(a, clientId)

      const count = 5000
      const publisher = await connectClient(a.url)
      const sent = flood(publisher.client, 'held/t', count)
      const first = await raw.packets.take(10, (p) => p.cmd === 'publish', 30_000)
      await until(() => (b.broker.admin.client(clientId)?.queued ?? 0) >= maxQueued - 10, 'the subscriber\'s queue on B to fill')

      // Unrelated topics between the same two nodes flow meanwhile.
      const reader = await connectClient(b.url)
      await reader.client.subscribeAsync('free/#', { qos: 1 })
      await knows(a, reader.client.options.clientId as string)
      const other = await connectClient(a.url)
      await flood(other.client, 'free/t', 1000).all
      expect(numbers(await received(reader, 'free/', 1000))).toEqual(ordered(1000))

      // The flood is held on A: B keeps a hop's worth over its bound, not the flood.
      const held = b.broker.admin.client(clientId)
      expect((held?.queued ?? 0) + (held?.inflight ?? 0)).toBeLessThan(count / 2)
      expect(sent.acked()).toBeLessThan(count / 2)

      // Acknowledging lets the publisher go: everything arrives, once and in order.
      const payloads = first.map((p) => (p.cmd === 'publish' ? p.payload.toString() : ''))
      for (const p of first) raw.send({ cmd: 'puback', messageId: p.messageId as number })
      while (payloads.length < count) {
        const p = await raw.next('publish', 30_000)
        payloads.push(p.payload.toString())
        raw.send({ cmd: 'puback', messageId: p.messageId as number })
      }
      await sent.all
      expect(numbers(payloads)).toEqual(ordered(count))
      expect(a.broker.stats.messagesDropped + b.broker.stats.messagesDropped).toBe(0)
    })
  }

  it('two clients on two nodes flooding each other at QoS 1 past maxQueued do not deadlock', { timeout: 120_000 }, async () => {
    const [a, b] = await twoNodes({ maxQueued: 20, maxInflight: 5, drainTimeout: 600_000 })
    const onA = await connectClient(a.url)
    const onB = await connectClient(b.url)
    await onA.client.subscribeAsync('to/a', { qos: 1 })
    await onB.client.subscribeAsync('to/b', { qos: 1 })
    await knows(b, onA.client.options.clientId as string)
    await knows(a, onB.client.options.clientId as string)
    const count = 2000
    const sent = [flood(onA.client, 'to/b', count).all, flood(onB.client, 'to/a', count).all]
    const [atA, atB] = await Promise.all([received(onA, 'to/a', count), received(onB, 'to/b', count)])
    await Promise.all(sent)
    expect(numbers(atA)).toEqual(ordered(count))
    expect(numbers(atB)).toEqual(ordered(count))
  })

  it('a subscriber on B that never reads is disconnected after drainTimeout; the publisher on A and a reader on B get everything', { timeout: 120_000 }, async () => {
    const [a, b] = await twoNodes({ maxQueued: 100, drainTimeout: 2000, maxSocketBuffer: 64 * 1024 })
    const gone = new Promise<string>((resolve) => b.broker.on('clientDisconnected', (client, reason) => client.id === 'never-reads' && resolve(reason)))
    const { raw } = await RawClient.connect(b.port, { clientId: 'never-reads' })
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'flood/#', qos: 1 }] })
    await raw.next('suback')
    raw.stream.pause()
    const reader = await connectClient(b.url)
    await reader.client.subscribeAsync('flood/#', { qos: 1 })
    await knows(a, 'never-reads')
    await knows(a, reader.client.options.clientId as string)

    const count = 3000
    const publisher = await connectClient(a.url)
    const sent = flood(publisher.client, 'flood/t', count, 1024)
    expect(numbers(await received(reader, 'flood/', count))).toEqual(ordered(count))
    await sent.all
    expect(await gone).toBe('slow-consumer')
    expect(a.broker.stats.messagesDropped).toBe(0)
  })
})
