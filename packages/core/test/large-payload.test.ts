import net from 'node:net'
import { generate } from 'mqtt-packet'
import { describe, expect, it } from 'vitest'
import type { Message } from '../src/index.js'
import { connectClient } from './helpers/clients.js'
import { connectV5 } from './helpers/v5.js'
import { startBroker } from './helpers/start-broker.js'

const MIB = 1024 * 1024

/** Bytes no two offsets of which repeat with a short period, so a misplaced or reordered read shows. */
function patterned(size: number, seed: number): Buffer {
  const payload = Buffer.alloc(size)
  for (let i = 0; i < size; i++) payload[i] = (i * 7 + seed + (i >> 12)) % 251
  return payload
}

/** Writes `bytes` in `pieces` separate writes, each after the previous one is flushed. */
async function writeInPieces(socket: net.Socket, bytes: Buffer, pieces: number): Promise<void> {
  const size = Math.ceil(bytes.length / pieces)
  for (let at = 0; at < bytes.length; at += size) {
    await new Promise<void>((resolve, reject) => socket.write(bytes.subarray(at, at + size), (error) => (error ? reject(error) : resolve())))
  }
}

describe('large payloads (they arrive over many socket reads and are forwarded without being joined)', () => {
  it('a 1 MiB payload reaches 3.1.1 and MQTT 5 subscribers byte for byte, from 3.1.1 and MQTT 5 publishers, at QoS 0 and 1', async () => {
    const b = await startBroker()
    const v3 = await connectClient(b.url)
    await v3.client.subscribeAsync('big/#', { qos: 1 })
    const v5 = await connectV5(b.url)
    await v5.client.subscribeAsync('big/#', { qos: 1, properties: { subscriptionIdentifier: 3 } })

    const fromV3 = patterned(MIB, 1)
    const fromV5 = patterned(MIB + 17, 2)
    const p3 = await connectClient(b.url)
    await p3.client.publishAsync('big/v3', fromV3, { qos: 0 })
    const p5 = await connectV5(b.url)
    await p5.client.publishAsync('big/v5', fromV5, { qos: 1, properties: { contentType: 'application/octet-stream', userProperties: { k: 'v' } } })

    for (const [topic, payload] of [['big/v3', fromV3], ['big/v5', fromV5]] as const) {
      expect((await v3.inbox.next((m) => m.topic === topic)).payload.equals(payload)).toBe(true)
      const got = await v5.messages.next((m) => m.topic === topic)
      expect(got.payload.equals(payload)).toBe(true)
      expect(got.properties.subscriptionIdentifier).toBe(3)
    }
  })

  it('a payload written in 1,000 pieces, with small packets before and after it in the same writes, arrives intact and in order', async () => {
    const b = await startBroker()
    const sub = await connectClient(b.url)
    await sub.client.subscribeAsync('order/#', { qos: 1 })
    const payload = patterned(MIB / 2, 3)
    const socket = net.connect(b.port, '127.0.0.1')
    await new Promise((resolve) => socket.once('connect', resolve))
    const connack = new Promise((resolve) => socket.once('data', resolve))
    socket.write(generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'pieces', keepalive: 0 }))
    // Until CONNECT is accepted only small packets are read.
    await connack
    const stream = Buffer.concat([
      generate({ cmd: 'publish', topic: 'order/1', payload: Buffer.from('before'), qos: 0, retain: false, dup: false }),
      generate({ cmd: 'publish', topic: 'order/2', payload, qos: 1, messageId: 1, retain: false, dup: false }),
      generate({ cmd: 'publish', topic: 'order/3', payload: Buffer.from('after'), qos: 0, retain: false, dup: false }),
    ])
    await writeInPieces(socket, stream, 1_000)
    const topics = []
    for (let i = 0; i < 3; i++) {
      const got = await sub.inbox.next()
      topics.push(got.topic)
      if (got.topic === 'order/2') expect(got.payload.equals(payload)).toBe(true)
    }
    expect(topics).toEqual(['order/1', 'order/2', 'order/3'])
    socket.destroy()
  })

  it('whoever reads the payload (a hook, the retained store) sees it whole, and later subscribers get the same bytes', async () => {
    const seen: Message[] = []
    const b = await startBroker({ hooks: { authorizePublish: (_client, message) => void seen.push(message) } })
    const payload = patterned(MIB, 4)
    const pub = await connectClient(b.url)
    await pub.client.publishAsync('kept/one', payload, { qos: 1, retain: true })
    expect(seen).toHaveLength(1)
    expect(Buffer.isBuffer(seen[0]!.payload) && seen[0]!.payload.equals(payload)).toBe(true)
    for (const late of [await connectClient(b.url), await connectV5(b.url)]) {
      await late.client.subscribeAsync('kept/#', { qos: 1 })
      const got = await late.inbox.next()
      expect([got.topic, got.retain, got.payload.equals(payload)]).toEqual(['kept/one', true, true])
    }
  })
})
