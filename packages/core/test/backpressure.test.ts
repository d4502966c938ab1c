import type { MqttClient } from 'mqtt'
import { describe, expect, it } from 'vitest'
import { connectClient, RawClient, type TestClient } from './helpers/clients.js'
import { startBroker, type StartedBroker } from './helpers/start-broker.js'

// The delivery guarantee under pressure: publishers are held back for subscribers that keep up, never for good by
// one that does not. Counts are bounded; every wait is for an event, with generous bounds for a busy machine.

/** Resolves once `count` messages on topics starting with `prefix` arrived; payloads kept in arrival order. */
function collect(client: MqttClient, prefix: string, count: number): { payloads: string[]; all: Promise<void> } {
  const payloads: string[] = []
  const all = new Promise<void>((resolve) => {
    client.on('message', (topic, payload) => {
      if (!topic.startsWith(prefix)) return
      payloads.push(payload.toString())
      if (payloads.length === count) resolve()
    })
  })
  return { payloads, all }
}

function publishAll(client: MqttClient, topic: string, count: number, qos: 0 | 1, size = 0): Promise<unknown> {
  const padding = 'x'.repeat(size)
  return Promise.all(Array.from({ length: count }, (_, i) => client.publishAsync(topic, `${i}:${padding}`, { qos })))
}

function numbers(payloads: string[]): number[] {
  return payloads.map((payload) => Number(payload.slice(0, payload.indexOf(':'))))
}

/** A subscriber on a raw socket that never reads after its SUBACK; resolves with its disconnect reason. */
async function neverReads(b: StartedBroker, filter: string, qos: 0 | 1): Promise<{ raw: RawClient; gone: Promise<string> }> {
  const clientId = `never-reads-${filter.length}-${qos}`
  const gone = new Promise<string>((resolve) => b.broker.on('clientDisconnected', (client, reason) => client.id === clientId && resolve(reason)))
  const { raw } = await RawClient.connect(b.port, { clientId })
  raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos }] })
  await raw.next('suback')
  raw.stream.pause()
  return { raw, gone }
}

const ordered = (count: number): number[] => Array.from({ length: count }, (_, i) => i)

describe('backpressure', () => {
  it('QoS 0 flood: the reading subscriber gets every message while the one that never reads is disconnected', { timeout: 120_000 }, async () => {
    // A long QoS 0 hold: the publisher waits for the reader rather than shedding; the stuck one goes after 3 s without progress (long enough for a reader starved by a busy machine).
    const b = await startBroker({ qos0HoldTime: 60_000, drainTimeout: 3000, maxSocketBuffer: 256 * 1024 })
    const stuck = await neverReads(b, 'flood/#', 0)
    const reader = await connectClient(b.url)
    await reader.client.subscribeAsync('flood/#', { qos: 0 })
    const count = 20_000
    const inbox = collect(reader.client, 'flood/', count)
    const publisher = await connectClient(b.url)
    await publishAll(publisher.client, 'flood/t', count, 0, 1024)
    await inbox.all
    expect(numbers(inbox.payloads)).toEqual(ordered(count))
    expect(await stuck.gone).toBe('slow-consumer')
  })

  it('QoS 0 to a subscriber that never reads is shed after qos0HoldTime: the publisher goes on, drops are counted', { timeout: 120_000 }, async () => {
    const b = await startBroker({ qos0HoldTime: 100, drainTimeout: 600_000, maxSocketBuffer: 64 * 1024 })
    const stuck = await neverReads(b, 'shed/#', 0)
    const reader = await connectClient(b.url)
    await reader.client.subscribeAsync('shed/#', { qos: 1 })
    const done = collect(reader.client, 'shed/done', 1)
    const publisher = await connectClient(b.url)
    await publishAll(publisher.client, 'shed/t', 5000, 0, 1024)
    await publisher.client.publishAsync('shed/done', '0:', { qos: 1 })
    await done.all
    expect(b.broker.stats.messagesDropped).toBeGreaterThan(0)
    expect(stuck.raw.isClosed).toBe(false)
  })

  it('a subscriber that reads but never acknowledges holds only its own publishers; other topics flow meanwhile', { timeout: 120_000 }, async () => {
    const b = await startBroker({ maxQueued: 50, drainTimeout: 600_000 })
    const { raw } = await RawClient.connect(b.port, { clientId: 'never-acks' })
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'held/#', qos: 1 }] })
    await raw.next('suback')
    const held = await connectClient(b.url)
    const heldAcks = publishAll(held.client, 'held/t', 500, 1)
    // The window and the queue fill, and the publisher is held: its later publishes are not acknowledged yet.
    const first = await raw.packets.take(50, (p) => p.cmd === 'publish', 30_000)

    const other = await connectClient(b.url)
    await other.client.subscribeAsync('free/#', { qos: 1 })
    const inbox = collect(other.client, 'free/', 2000)
    const free = await connectClient(b.url)
    await publishAll(free.client, 'free/t', 2000, 1)
    await inbox.all
    expect(numbers(inbox.payloads)).toEqual(ordered(2000))

    let settled = false
    void heldAcks.then(() => (settled = true))
    await new Promise((resolve) => setImmediate(resolve))
    expect(settled).toBe(false)
    // Acknowledging lets the held publisher go: everything arrives, in order.
    for (const p of first) raw.send({ cmd: 'puback', messageId: p.messageId as number })
    for (let seen = first.length; seen < 500; seen++) {
      const p = await raw.next('publish', 30_000)
      raw.send({ cmd: 'puback', messageId: p.messageId as number })
    }
    await heldAcks
    expect(b.broker.stats.messagesDropped).toBe(0)
  })

  it('publishers held by one slow subscriber share it: each gets a fair part of what it reads', { timeout: 120_000 }, async () => {
    const b = await startBroker({ maxQueued: 40, drainTimeout: 600_000 })
    const { raw } = await RawClient.connect(b.port, { clientId: 'slow-reader' })
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'fair/#', qos: 1 }] })
    await raw.next('suback')
    const publishers = await Promise.all([0, 1, 2, 3].map(() => connectClient(b.url)))
    const sent = publishers.map((p, i) => publishAll(p.client, `fair/${i}`, 300, 1))
    // The reader acknowledges one message at a time: the four publishers are held and released over and over.
    const perPublisher = [0, 0, 0, 0]
    for (let read = 0; read < 400; read++) {
      const p = await raw.next('publish', 30_000)
      const from = Number((p.topic as string).slice('fair/'.length))
      perPublisher[from] = (perPublisher[from] ?? 0) + 1
      raw.send({ cmd: 'puback', messageId: p.messageId as number })
    }
    for (const count of perPublisher) expect(count).toBeGreaterThanOrEqual(50)
    for (let read = 400; read < 1200; read++) raw.send({ cmd: 'puback', messageId: (await raw.next('publish', 30_000)).messageId as number })
    await Promise.all(sent)
    expect(b.broker.stats.messagesDropped).toBe(0)
  })

  it('two clients flooding each other at QoS 1 past maxQueued do not deadlock', { timeout: 120_000 }, async () => {
    const b = await startBroker({ maxQueued: 20, maxInflight: 5 })
    const a = await connectClient(b.url)
    const c = await connectClient(b.url)
    await a.client.subscribeAsync('to/a', { qos: 1 })
    await c.client.subscribeAsync('to/c', { qos: 1 })
    const count = 3000
    const atA = collect(a.client, 'to/a', count)
    const atC = collect(c.client, 'to/c', count)
    await Promise.all([publishAll(a.client, 'to/c', count, 1), publishAll(c.client, 'to/a', count, 1)])
    await Promise.all([atA.all, atC.all])
    expect(numbers(atA.payloads)).toEqual(ordered(count))
    expect(numbers(atC.payloads)).toEqual(ordered(count))
  })

  it("fullQueueAction chooses per client: a 'drop' client loses messages past maxQueued and holds nobody", { timeout: 120_000 }, async () => {
    const b = await startBroker({ maxInflight: 5, maxQueued: 10, fullQueueAction: (client) => (client.id === 'dashboard' ? 'drop' : 'hold-publishers') })
    const { raw } = await RawClient.connect(b.port, { clientId: 'dashboard' })
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'd/#', qos: 1 }] })
    await raw.next('suback')
    const publisher: TestClient = await connectClient(b.url)
    // Never acknowledged by the dashboard, yet every publish is acknowledged to the publisher.
    await publishAll(publisher.client, 'd/t', 200, 1)
    expect(b.broker.stats.messagesDropped).toBe(190)
  })
})

describe('backpressure on the host', () => {
  it("broker.publish() resolves once a full subscriber has room again, and nothing is lost", { timeout: 120_000 }, async () => {
    const b = await startBroker({ maxQueued: 20, maxInflight: 5 })
    const { raw } = await RawClient.connect(b.port, { clientId: 'acks-by-hand' })
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'host/#', qos: 1 }] })
    await raw.next('suback')
    for (let i = 0; i < 20; i++) await b.broker.publish({ topic: 'host/t', payload: String(i), qos: 1 })
    let resolved = false
    const full = b.broker.publish({ topic: 'host/t', payload: '20', qos: 1 }).then(() => (resolved = true))
    const first = await raw.packets.take(5, (p) => p.cmd === 'publish')
    await new Promise((resolve) => setImmediate(resolve))
    expect(resolved).toBe(false)
    for (const p of first) raw.send({ cmd: 'puback', messageId: p.messageId as number })
    const payloads = first.map((p) => (p.cmd === 'publish' ? p.payload.toString() : ''))
    for (let seen = first.length; seen < 21; seen++) {
      const p = await raw.next('publish', 30_000)
      if (p.cmd === 'publish') payloads.push(p.payload.toString())
      raw.send({ cmd: 'puback', messageId: p.messageId as number })
    }
    await full
    expect(payloads).toEqual(Array.from({ length: 21 }, (_, i) => String(i)))
  })
})
