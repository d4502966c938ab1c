import net from 'node:net'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createBroker } from '../src/index.js'
import { connectClient, RawClient, refusal, sleep, uniqueId, type TestClient } from './helpers/clients.js'
import { listen, startBroker } from './helpers/start-broker.js'

// The limits of docs/security.md, each over TCP: what the client sees when it reaches one, and that nobody
// else notices. Queue bounds (persistent-session.test.ts) and the MQTT 5 slow consumer (v5/slow-consumer.test.ts)
// are tested there.


/** The SUBACK codes of a SUBSCRIBE; MQTT.js rejects when one is a failure and carries the packet. */
async function granted(subscriber: TestClient, filters: string[]): Promise<number[]> {
  try {
    return (await subscriber.client.subscribeAsync(filters, { qos: 1 })).map((grant) => grant.qos)
  } catch (error) {
    return (error as { packet: { granted: number[] } }).packet.granted
  }
}

describe('maxConnections', () => {
  it('refuses clients past the limit with CONNACK 3 (3.1.1) or 0x89 (MQTT 5), and admits again once one leaves', async () => {
    const b = await startBroker({ sysInterval: 0, maxConnections: 2 })
    const first = await connectClient(b.url)
    const second = await connectClient(b.url, { protocolVersion: 5 })
    expect(await refusal(connectClient(b.url))).toBe(3)
    expect(await refusal(connectClient(b.url, { protocolVersion: 5 }))).toBe(0x89)

    await second.client.subscribeAsync('still/here', { qos: 1 })
    await first.client.publishAsync('still/here', 'yes', { qos: 1 })
    expect((await second.inbox.next()).payload.toString()).toBe('yes')

    await first.client.endAsync()
    await first.closed
    await expect.poll(() => b.broker.connectedClients).toBe(1)
    const third = await connectClient(b.url)
    expect(third.connack.returnCode).toBe(0)
  })
})

describe('maxSubscriptionsPerClient', () => {
  it('refuses filters past the limit (0x80 in 3.1.1, 0x97 in MQTT 5); replacing one does not count, unsubscribing frees a slot', async () => {
    const b = await startBroker({ sysInterval: 0, maxSubscriptionsPerClient: 2 })
    const v3 = await connectClient(b.url)
    expect(await granted(v3, ['a/1', 'a/2', 'a/3'])).toEqual([1, 1, 0x80])
    expect(await granted(v3, ['a/1'])).toEqual([1])
    await v3.client.unsubscribeAsync('a/2')
    expect(await granted(v3, ['a/3', 'a/4'])).toEqual([1, 0x80])

    const v5 = await connectClient(b.url, { protocolVersion: 5 })
    expect(await granted(v5, ['b/1', 'b/2', 'b/3'])).toEqual([1, 1, 0x97])
    await b.broker.publish({ topic: 'b/3', payload: 'not subscribed', qos: 1 })
    await b.broker.publish({ topic: 'b/2', payload: 'subscribed', qos: 1 })
    expect((await v5.inbox.next()).topic).toBe('b/2')
    await v5.inbox.expectNone(100)
    expect(v5.client.connected).toBe(true)
  })
})

describe('maxSubscriptionBytesPerClient', () => {
  it('refuses a filter that would take the bytes of the filters a client holds past the cap (0x80 / 0x97); replacing does not count, unsubscribing frees', async () => {
    const b = await startBroker({ sysInterval: 0, maxSubscriptionBytesPerClient: 2500 })
    const long = (name: string): string => `${name}/${'x'.repeat(998)}`
    const v3 = await connectClient(b.url)
    expect(await granted(v3, [long('a'), long('b'), long('c')])).toEqual([1, 1, 0x80])
    expect(await granted(v3, [long('a'), 'short'])).toEqual([1, 1])
    await v3.client.unsubscribeAsync(long('b'))
    expect(await granted(v3, [long('c')])).toEqual([1])

    const v5 = await connectClient(b.url, { protocolVersion: 5 })
    expect(await granted(v5, [long('d'), long('e'), long('f')])).toEqual([1, 1, 0x97])
    await b.broker.publish({ topic: long('f'), payload: 'not subscribed', qos: 1 })
    await b.broker.publish({ topic: long('e'), payload: 'subscribed', qos: 1 })
    expect((await v5.inbox.next()).payload.toString()).toBe('subscribed')
    expect(v5.client.connected).toBe(true)
  })
})

describe('maxPublishRate', () => {
  const RATE = 20
  const COUNT = 3 * RATE

  async function rateLimited(): Promise<{ url: string; subscriber: TestClient; publisher: TestClient }> {
    const b = await startBroker({ sysInterval: 0, maxPublishRate: RATE })
    const subscriber = await connectClient(b.url)
    await subscriber.client.subscribeAsync('rate/#', { qos: 0 })
    const publisher = await connectClient(b.url)
    return { url: b.url, subscriber, publisher }
  }

  /** COUNT messages at RATE a second take at least (COUNT / RATE - 1) seconds: the last window may be partly used. */
  const minimumMs = (COUNT / RATE - 1) * 1000 - 100

  it('slows a client publishing at ten times the rate without disconnecting it', async () => {
    const { subscriber, publisher } = await rateLimited()
    const started = Date.now()
    for (let i = 0; i < COUNT; i++) {
      publisher.client.publish('rate/paced', String(i), { qos: 0 })
      await sleep(1000 / (RATE * 10))
    }
    const received = await subscriber.inbox.take(COUNT, () => true, 10_000)
    expect(Date.now() - started).toBeGreaterThanOrEqual(minimumMs)
    expect(received.map((m) => m.payload.toString())).toEqual(Array.from({ length: COUNT }, (_, i) => String(i)))
    expect(publisher.client.connected).toBe(true)
  })

  // Publishes already read in the same chunk wait for the next window too (they used to be handled at once).
  it('slows a client that writes its publishes all at once (one TCP write) just the same', async () => {
    const { subscriber, publisher } = await rateLimited()
    const started = Date.now()
    publisher.client.stream.cork()
    for (let i = 0; i < COUNT; i++) publisher.client.publish('rate/burst', String(i), { qos: 0 })
    publisher.client.stream.uncork()
    await subscriber.inbox.take(COUNT, () => true, 10_000)
    expect(Date.now() - started).toBeGreaterThanOrEqual(minimumMs)
    expect(publisher.client.connected).toBe(true)
  })
})

describe('maxQueued', () => {
  it('counts the messages dropped from a full queue in $SYS/broker/messages/dropped', async () => {
    const b = await startBroker({ sysInterval: 1, maxQueued: 5 })
    const clientId = uniqueId('offline')
    const offline = await connectClient(b.url, { clientId, clean: false })
    await offline.client.subscribeAsync('queued/#', { qos: 1 })
    await offline.client.endAsync()
    const watcher = await connectClient(b.url)
    await watcher.client.subscribeAsync('$SYS/broker/messages/dropped', { qos: 0 })
    const before = Number((await watcher.inbox.next(undefined, 3000)).payload.toString())

    const publisher = await connectClient(b.url)
    for (let i = 0; i < 15; i++) await publisher.client.publishAsync('queued/x', String(i), { qos: 1 })
    const counted = await watcher.inbox.next((m) => Number(m.payload.toString()) >= before + 10, 4000, 'dropped >= 10')
    expect(Number(counted.payload.toString()) - before).toBe(10)

    const back = await connectClient(b.url, { clientId, clean: false })
    expect((await back.inbox.take(5)).map((m) => m.payload.toString())).toEqual(['0', '1', '2', '3', '4'])
  })
})

describe('a slow consumer (MQTT 3.1.1)', () => {
  it('that stops reading is disconnected after drainTimeout, with the broker buffering at most about twice maxSocketBuffer for it, while others keep receiving', async () => {
    const maxSocketBuffer = 64 * 1024
    const broker = createBroker({ sysInterval: 0, maxSocketBuffer, drainTimeout: 500 })
    await broker.ready()
    const { server, port, sockets } = await listen(broker)
    onTestFinished(async () => {
      await broker.close()
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    })
    const url = `mqtt://127.0.0.1:${port}`

    const rawId = uniqueId('slow')
    const { raw } = await RawClient.connect(port, { clientId: rawId })
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'flood/#', qos: 0 }] })
    await raw.next('suback')
    raw.stream.pause()
    const rawPort = (raw.stream as net.Socket).localPort
    const serverSide = [...sockets].find((socket) => socket.remotePort === rawPort)!
    // The client side, paused, would not see the close until it reads: watch the broker's side.
    const cutOff = new Promise<number>((resolve) => serverSide.once('close', () => resolve(Date.now())))
    const disconnected = new Promise<string>((resolve) =>
      broker.on('clientDisconnected', (client, reason) => client.id === rawId && resolve(reason)),
    )
    const fast = await connectClient(url)
    await fast.client.subscribeAsync('flood/tick', { qos: 1 })

    // Until the kernel's buffers on both ends of the loopback connection are full, the socket drains and the broker
    // keeps writing: flood until the broker gives up on the client (bounded in count and time). The other client
    // gets a tick every ten messages all along, through the drain timeout too.
    let gone = false
    void disconnected.then(() => (gone = true))
    const payload = Buffer.alloc(128 * 1024, 0x61)
    let buffered = 0
    let sent = 0
    let ticks = 0
    const deadline = Date.now() + 5000
    while (!gone && sent < 10_000 && Date.now() < deadline) {
      await broker.publish({ topic: 'flood/big', payload, qos: 0 })
      if (++sent % 10 === 0) await broker.publish({ topic: 'flood/tick', payload: String(ticks++), qos: 1 })
      buffered = Math.max(buffered, serverSide.writableLength)
      await sleep(1)
    }
    await broker.publish({ topic: 'flood/tick', payload: String(ticks++), qos: 1 })
    const received = await fast.inbox.take(ticks, () => true, 10_000)
    expect(received.map((m) => m.payload.toString())).toEqual(Array.from({ length: ticks }, (_, i) => String(i)))
    expect(await disconnected).toBe('slow-consumer')
    await cutOff
    // The host's publishes cannot be held back: QoS 0 is written until twice the bound, then dropped for this client.
    expect(buffered).toBeGreaterThan(0)
    expect(buffered).toBeLessThanOrEqual(2 * maxSocketBuffer + payload.length + 64)
    expect(fast.client.connected).toBe(true)
  })
})
