/**
 * Small packets written to a connection in one tick go out as one batch (transport.ts): what a client receives must
 * be exactly the packets, in order, when more connections write in one tick than the shared staging slab has
 * regions, when a packet too large to batch comes between small ones, and when acks and PUBLISHes mix.
 */
import { generate, type IPublishPacket, type Packet } from 'mqtt-packet'
import { describe, expect, it } from 'vitest'
import { connectClient, RawClient, type TestClient } from './helpers/clients.js'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { createBroker, duplexPair } from '../src/index.js'
import { MAX_LENT_SLABS } from '../src/connection/transport.js'
import { LARGE_PAYLOAD } from '../src/connection/split-payload.js'
import { listen, startBroker } from './helpers/start-broker.js'
import { rawConnectV5, rawSubscribe, type PublishProperties } from './helpers/v5.js'

type CountedSocket = Socket & { _writev: (...args: unknown[]) => void; _write: (...args: unknown[]) => void }

/** Counts the write requests a server-side socket gets from here on (a writev of several buffers is one). */
function countWrites(socket: Socket): () => number {
  const counted = socket as CountedSocket
  let writes = 0
  for (const method of ['_writev', '_write'] as const) {
    const original = counted[method].bind(counted)
    counted[method] = (...args: unknown[]) => {
      writes++
      original(...args)
    }
  }
  return () => writes
}

type HeldWrite = { chunks: Buffer[]; complete: () => void }

/**
 * From here on the broker's writes to `stream` wait, their chunks referenced, as a socket's do once its peer stops
 * reading and the kernel buffer is full (in memory: on loopback that takes megabytes). Resolves with the first
 * write that waits, and what completes it, as the peer reading it would.
 */
function stallWrites(stream: Duplex): Promise<HeldWrite> {
  const writable = stream as Duplex & { _write: unknown; _writev: unknown }
  return new Promise((resolve) => {
    writable._write = (chunk: Buffer, _encoding: string, complete: () => void) => resolve({ chunks: [chunk], complete })
    writable._writev = (entries: Array<{ chunk: Buffer }>, complete: () => void) => resolve({ chunks: entries.map((entry) => entry.chunk), complete })
  })
}

/**
 * Whether a waiting write keeps more memory alive than its own bytes: a region of a staging slab, as copies are
 * Buffers of their own (the test checks that too). Not judged against `Buffer.poolSize`: it is 64 KiB on Node 24.
 */
function holdsSlab({ chunks }: HeldWrite): boolean {
  return chunks.some((chunk) => chunk.buffer.byteLength > chunk.length)
}

/** Every byte a raw client receives from here on. */
function captureBytes(raw: RawClient): Buffer[] {
  const chunks: Buffer[] = []
  raw.stream.on('data', (chunk: Buffer) => chunks.push(chunk))
  return chunks
}

/** Above the size from which a payload is written from its own buffer, after a header: a few KiB prove it. */
/** Subscribes `raw` to `topic` at QoS 0 and waits for the SUBACK. */
async function subscribeQos0(raw: RawClient, topic: string): Promise<void> {
  raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] })
  await raw.next('suback')
}

/** Raw clients connected and subscribed to `topic` at QoS 0, one per client id. */
async function subscribedClients(port: number, clientIds: string[], topic: string): Promise<RawClient[]> {
  const clients: RawClient[] = []
  for (const clientId of clientIds) {
    const { raw } = await RawClient.connect(port, { clientId })
    await subscribeQos0(raw, topic)
    clients.push(raw)
  }
  return clients
}

/** A raw client handed to `broker` over an in-memory pair, subscribed to `topic` when given; `stream` is the broker's side. */
async function memoryClient(broker: ReturnType<typeof createBroker>, clientId: string, topic?: string): Promise<{ raw: RawClient; stream: Duplex }> {
  const [brokerSide, clientSide] = duplexPair()
  broker.handle(brokerSide)
  const raw = new RawClient(clientSide)
  await raw.handshake({ clientId })
  if (topic !== undefined) await subscribeQos0(raw, topic)
  return { raw, stream: brokerSide }
}

const LARGE = Buffer.alloc(LARGE_PAYLOAD + 1024, 0x4c)

function qos0(topic: string, payload: Buffer | string, properties?: PublishProperties): IPublishPacket {
  return { cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, dup: false, retain: false, ...(properties ? { properties } : {}) }
}

/**
 * Each subscriber's region grows to a full 1 KiB in the tick (moved as it doubles, as every subscriber writes in
 * turn), so 80 of them span more than one 64 KiB staging slab.
 */
const SUBSCRIBERS = 80

function publish(payload: string, messageId: number): IPublishPacket {
  return { cmd: 'publish', topic: 'batch/t', payload: Buffer.from(payload), qos: 1, dup: false, retain: false, messageId }
}

describe('small writes batched per tick', () => {
  it('delivers every PUBLISH of one read, small and large, in order to 80 subscribers (regions growing across slabs), and acks each', async () => {
    const b = await startBroker({ sysInterval: 0 })
    const subscribers: TestClient[] = []
    for (let i = 0; i < SUBSCRIBERS; i++) {
      const sub = await connectClient(b.url)
      await sub.client.subscribeAsync('batch/t', { qos: 1 })
      subscribers.push(sub)
    }
    const { raw } = await RawClient.connect(b.port)
    // Above the batching threshold (256 bytes): written on its own, after what was batched before it.
    const large = 'L'.repeat(600)
    const small = Array.from({ length: 40 }, (_, i) => `s${i}`.padEnd(20, '.'))
    const payloads = [...small, large, 'last']
    // One write, so the broker reads (and routes) all four in one tick.
    raw.write(Buffer.concat(payloads.map((payload, i) => generate(publish(payload, i + 1)))))
    for (let id = 1; id <= payloads.length; id++) expect((await raw.next('puback')).messageId).toBe(id)
    for (const sub of subscribers) {
      const got = await sub.inbox.take(payloads.length)
      expect(got.map((m) => m.payload.toString())).toEqual(payloads)
    }
  })

  it('hands a burst that fills several batch regions to the socket corked: one write at the end of the tick', async () => {
    const broker = createBroker({ sysInterval: 0 })
    await broker.ready()
    const { server, port, sockets } = await listen(broker)
    try {
      const [subscriber] = (await subscribedClients(port, ['burst-sub'], 'burst/t')) as [RawClient]
      const { raw: publisher } = await RawClient.connect(port, { clientId: 'burst-pub' })
      const writes = countWrites([...sockets][0] as Socket)
      // 100 small PUBLISHes in one read: about 3 KiB for the subscriber, three regions of the staging slab.
      const burst = 100
      const one = (i: number) => generate({ cmd: 'publish', topic: 'burst/t', payload: Buffer.from(`m${i}`.padEnd(20, '.')), qos: 0, dup: false, retain: false })
      publisher.write(Buffer.concat(Array.from({ length: burst }, (_, i) => one(i))))
      for (let i = 0; i < burst; i++) expect(((await subscriber.packets.next((p) => p.cmd === 'publish')) as IPublishPacket).payload.toString()).toBe(`m${i}`.padEnd(20, '.'))
      expect(writes()).toBe(1)
      publisher.destroy()
      subscriber.destroy()
    } finally {
      server.close()
    }
  })

  it('writes a large PUBLISH after small ones of the same tick in order, as one write request, bytes as encoded unbatched (3.1.1)', async () => {
    const broker = createBroker({ sysInterval: 0 })
    await broker.ready()
    const { server, port, sockets } = await listen(broker)
    try {
      // Two subscribers: the second copies the QoS 0 encodings the first one's batch holds.
      const subscribers = await subscribedClients(port, ['large-sub', 'large-sub-2'], 'large/#')
      const { raw: publisher } = await RawClient.connect(port, { clientId: 'large-pub' })
      const writes = countWrites([...sockets][0] as Socket)
      const received = subscribers.map(captureBytes)
      const sent = [qos0('large/s', 'one'), qos0('large/s', 'two'), qos0('large/l', LARGE), qos0('large/s', 'three')]
      const encoded = sent.map((packet) => generate(packet))
      // One read: the broker routes all four in one tick.
      publisher.write(Buffer.concat(encoded))
      for (const raw of subscribers) for (const packet of sent) expect((await raw.next('publish')).topic).toBe(packet.topic)
      for (const bytes of received) expect(Buffer.concat(bytes).equals(Buffer.concat(encoded))).toBe(true)
      expect(writes()).toBe(1)
    } finally {
      server.close()
    }
  })

  it('writes MQTT 5 PUBLISHes, small and large, with and without topic alias and properties, byte for byte as encoded unbatched', async () => {
    const b = await startBroker({ sysInterval: 0 })
    const { raw: aliased } = await rawConnectV5(b.port, { properties: { topicAliasMaximum: 4 } })
    await rawSubscribe(aliased, 'v5/t', 0)
    const { raw: plain } = await rawConnectV5(b.port)
    await rawSubscribe(plain, 'v5/t', 0)
    const { raw: publisher } = await rawConnectV5(b.port)
    const fromAliased = captureBytes(aliased)
    const fromPlain = captureBytes(plain)
    const carried: PublishProperties = { payloadFormatIndicator: true, contentType: 'text/plain', userProperties: { k: 'v' } }
    const sent = [qos0('v5/t', 'one', carried), qos0('v5/t', 'two'), qos0('v5/t', LARGE, carried), qos0('v5/t', LARGE), qos0('v5/t', 'three', carried)]
    publisher.write(Buffer.concat(sent.map((packet) => generate(packet, { protocolVersion: 5 }))))
    // The properties in the order the broker writes them: carried ones first, then the topic alias.
    const expected = (withAlias: boolean): Buffer =>
      Buffer.concat(
        sent.map((packet, i) => {
          const properties = { ...packet.properties, ...(withAlias ? { topicAlias: 1 } : {}) }
          const topic = withAlias && i > 0 ? '' : packet.topic
          return generate({ ...packet, topic, ...(Object.keys(properties).length > 0 ? { properties } : {}) } as Packet, { protocolVersion: 5 })
        }),
      )
    for (const raw of [aliased, plain]) for (let i = 0; i < sent.length; i++) await raw.next('publish')
    expect(Buffer.concat(fromAliased).equals(expected(true))).toBe(true)
    expect(Buffer.concat(fromPlain).equals(expected(false))).toBe(true)
  })

  it('keeps writing to the others when a subscriber socket is destroyed mid-tick', async () => {
    const broker = createBroker({ sysInterval: 0 })
    await broker.ready()
    const { server, port, sockets } = await listen(broker)
    try {
      const subscribers = await subscribedClients(port, ['mid-0', 'mid-1', 'mid-2'], 'mid/t')
      // The middle subscriber's socket is destroyed by the broker's first write to it: the large PUBLISH, mid-tick.
      const doomed = [...sockets][1] as Socket
      const write = doomed.write.bind(doomed) as (...args: unknown[]) => boolean
      doomed.write = ((...args: unknown[]) => {
        doomed.destroy()
        return write(...args)
      }) as Socket['write']
      const { raw: publisher } = await RawClient.connect(port, { clientId: 'mid-pub' })
      const sent = [qos0('mid/t', 'one'), qos0('mid/t', LARGE), qos0('mid/t', 'two'), qos0('mid/t', 'three')]
      publisher.write(Buffer.concat(sent.map((packet) => generate(packet))))
      for (const raw of [subscribers[0], subscribers[2]] as RawClient[]) {
        for (const packet of sent) expect((await raw.next('publish')).payload.length).toBe(packet.payload.length)
      }
      expect(await (subscribers[1] as RawClient).closesWithin(3000)).toBe(true)
      // And the broker goes on: a later tick's batch reaches the survivors.
      publisher.send(qos0('mid/t', 'after'))
      for (const raw of [subscribers[0], subscribers[2]] as RawClient[]) expect((await raw.next('publish')).payload.toString()).toBe('after')
      expect(subscribers[0]?.parseErrors).toEqual([])
    } finally {
      server.close()
    }
  })

  it('never rewrites bytes a stream still holds: a client that reads nothing for 100 ticks then gets every packet intact', async () => {
    const broker = createBroker({ sysInterval: 0 })
    await broker.ready()
    try {
      const held = (await memoryClient(broker, 'held', 'held/t')).raw
      const reading = (await memoryClient(broker, 'reading', 'held/t')).raw
      const publisher = (await memoryClient(broker, 'publisher')).raw
      // Paused: what the broker writes to it stays in the in-memory stream's buffer, as the Buffers it was handed.
      held.stream.pause()
      const payloads = Array.from({ length: 100 }, (_, i) => `m${i}`.padEnd(30, '.'))
      for (const payload of payloads) {
        publisher.send(qos0('held/t', payload))
        // One message per tick: every later tick's batches are written while the held client keeps the earlier ones.
        expect((await reading.next('publish')).payload.toString()).toBe(payload)
      }
      held.stream.resume()
      for (const payload of payloads) expect((await held.next('publish')).payload.toString()).toBe(payload)
      expect(held.parseErrors).toEqual([])
    } finally {
      await broker.close()
    }
  })

  it(`keeps at most ${MAX_LENT_SLABS} staging slabs alive for clients that stop reading, however many stall, and lends again once they read or close`, async () => {
    const broker = createBroker({ sysInterval: 0 })
    await broker.ready()
    try {
      const publisher = await memoryClient(broker, 'lent-pub', 'lent/none')
      const reader = await memoryClient(broker, 'lent-reader', 'lent/reader')
      const stalled = MAX_LENT_SLABS + 8
      const peers = await Promise.all(Array.from({ length: stalled + 2 }, (_, i) => memoryClient(broker, `lent-${i}`, `lent/${i}`)))
      /** Peer `i` stops reading and is sent one message, in a tick of its own. */
      const stall = (i: number): Promise<HeldWrite> => {
        const held = stallWrites((peers[i] as { stream: Duplex }).stream)
        publisher.raw.send(qos0(`lent/${i}`, `to ${i}`))
        return held
      }
      const held: HeldWrite[] = []
      for (let i = 0; i < stalled; i++) held.push(await stall(i))
      expect(held.filter(holdsSlab)).toHaveLength(MAX_LENT_SLABS)
      // The others got copies that keep nothing alive but their own bytes.
      for (const { chunks } of held.slice(MAX_LENT_SLABS)) for (const chunk of chunks) expect(chunk.buffer.byteLength).toBe(chunk.length)

      // A stalled client that closes gives its slab back at once.
      const closing = (peers[0] as { stream: Duplex }).stream
      const closed = new Promise((resolve) => closing.once('close', resolve))
      closing.destroy()
      await closed
      expect(holdsSlab(await stall(stalled))).toBe(true)

      // Stalled clients that read again give theirs back by the end of the next tick that writes.
      for (const write of held.slice(1)) write.complete()
      publisher.raw.send(qos0('lent/reader', 'a tick'))
      expect((await reader.raw.next('publish')).payload.toString()).toBe('a tick')
      expect(holdsSlab(await stall(stalled + 1))).toBe(true)
    } finally {
      await broker.close()
    }
  })
})
