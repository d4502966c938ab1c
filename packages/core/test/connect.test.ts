import type { Packet } from 'mqtt-packet'
import { describe, expect, it } from 'vitest'
import { connectBytes, connectClient, encodeString, RawClient, uniqueId } from './helpers/clients.js'
import { recordEvents } from './helpers/events.js'
import { startBroker } from './helpers/start-broker.js'

/** Will topic and will message, as they follow the client id in a CONNECT payload. */
const willFields = Buffer.concat([encodeString('will/t'), encodeString('bye')])

describe('CONNECT', () => {
  it.each([6, 2, 0, 255])('answers an unsupported protocol level %i with CONNACK 0x01 and closes [MQTT-3.1.2-2]', async (level) => {
    const b = await startBroker()
    const raw = await RawClient.open(b.port)
    raw.write(connectBytes({ level }))
    const connack = await raw.next('connack')
    expect(connack.returnCode).toBe(1)
    expect(connack.sessionPresent).toBe(false)
    expect(await raw.closesWithin(2000)).toBe(true)
  })

  it.each(['MQTX', 'mqtt', 'MQIsdp-', ''])('closes the connection for protocol name %j without accepting it [MQTT-3.1.2-1]', async (protocolName) => {
    const b = await startBroker()
    const raw = await RawClient.open(b.port)
    raw.write(connectBytes({ protocolName }))
    expect(await raw.closesWithin(2000)).toBe(true)
    expect(raw.packets.received.filter((p) => p.cmd === 'connack' && p.returnCode === 0)).toEqual([])
  })

  it.each([
    ['the reserved flag set [MQTT-3.1.2-3]', 0x03, Buffer.alloc(0)],
    ['will QoS 3 [MQTT-3.1.2-14]', 0x02 | 0x04 | 0x18, willFields],
    ['will retain without the will flag [MQTT-3.1.2-15]', 0x02 | 0x20, Buffer.alloc(0)],
    ['will QoS 1 without the will flag [MQTT-3.1.2-13]', 0x02 | 0x08, Buffer.alloc(0)],
    ['a password without a user name [MQTT-3.1.2-22]', 0x02 | 0x40, encodeString('secret')],
    ['a will topic with a wildcard [MQTT-3.1.2-9]', 0x02 | 0x04, Buffer.concat([encodeString('will/+'), encodeString('bye')])],
  ])('closes the connection for a CONNECT with %s', async (_what, flags, extra) => {
    const b = await startBroker()
    const raw = await RawClient.open(b.port)
    raw.write(connectBytes({ flags, extra }))
    expect(await raw.closesWithin(2000)).toBe(true)
    expect(raw.packets.received.filter((p) => p.cmd === 'connack' && p.returnCode === 0)).toEqual([])
  })

  it('accepts a well-formed CONNECT built byte by byte (the failure cases above differ from it in one field)', async () => {
    const b = await startBroker()
    const raw = await RawClient.open(b.port)
    raw.write(connectBytes({ flags: 0x02 | 0x04 | 0x08 | 0x20, extra: willFields }))
    const connack = await raw.next('connack')
    expect(connack.returnCode).toBe(0)
    expect(await raw.closesWithin(300)).toBe(false)
  })

  it('accepts an empty client id with clean session and assigns a unique id [MQTT-3.1.3-6]', async () => {
    const b = await startBroker()
    const events = recordEvents(b.broker)
    const first = await RawClient.open(b.port)
    expect((await first.handshake({ clientId: '', clean: true })).returnCode).toBe(0)
    const second = await RawClient.open(b.port)
    expect((await second.handshake({ clientId: '', clean: true })).returnCode).toBe(0)
    const [a, c] = await events.connected.take(2)
    expect(a?.id).toMatch(/.+/)
    expect(c?.id).toMatch(/.+/)
    expect(a?.id).not.toBe(c?.id)
    // both stay connected: the second did not take over the first
    expect(await first.closesWithin(300)).toBe(false)
    expect(second.isClosed).toBe(false)
    // and the client with an assigned id can use its session
    second.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'anon/t', qos: 0 }] })
    await second.next('suback')
    first.send({ cmd: 'publish', topic: 'anon/t', payload: Buffer.from('x'), qos: 0, dup: false, retain: false })
    expect((await second.next('publish')).payload.toString()).toBe('x')
  })

  it('refuses an empty client id without clean session with CONNACK 0x02 and closes [MQTT-3.1.3-8]', async () => {
    const b = await startBroker()
    const raw = await RawClient.open(b.port)
    // MQTT.js and mqtt-packet refuse to produce this CONNECT
    raw.write(connectBytes({ clientId: '', flags: 0x00 }))
    const connack = await raw.next('connack')
    expect(connack.returnCode).toBe(2)
    expect(await raw.closesWithin(2000)).toBe(true)
  })

  it.each<[string, Packet]>([
    ['PINGREQ', { cmd: 'pingreq' }],
    ['PUBLISH', { cmd: 'publish', topic: 'first/t', payload: Buffer.from('x'), qos: 0, dup: false, retain: false }],
    ['SUBSCRIBE', { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'first/#', qos: 0 }] }],
  ])('closes a connection whose first packet is %s, not CONNECT [MQTT-3.1.0-1]', async (_name, packet) => {
    const b = await startBroker()
    const watcher = await connectClient(b.url)
    await watcher.client.subscribeAsync('first/#', { qos: 0 })
    const raw = await RawClient.open(b.port)
    raw.send(packet)
    expect(await raw.closesWithin(2000)).toBe(true)
    expect(raw.packets.received.map((p) => p.cmd)).toEqual([])
    await watcher.inbox.expectNone(200)
  })

  it('closes a client that sends a second CONNECT, and publishes its will [MQTT-3.1.0-2]', async () => {
    const b = await startBroker()
    const watcher = await connectClient(b.url)
    await watcher.client.subscribeAsync('will/#', { qos: 1 })
    const { raw } = await RawClient.connect(b.port, { will: { topic: 'will/second', payload: Buffer.from('gone'), qos: 1, retain: false } })
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: uniqueId('again'), clean: true, keepalive: 60 })
    expect(await raw.closesWithin(2000)).toBe(true)
    const will = await watcher.inbox.next((m) => m.topic === 'will/second')
    expect(will.payload.toString()).toBe('gone')
  })

  it('closes a connection that sends nothing within connectTimeout', async () => {
    const b = await startBroker({ connectTimeout: 200 })
    const raw = await RawClient.open(b.port)
    expect(await raw.closesWithin(2000)).toBe(true)
  })

  it('closes a connection that sends only part of a CONNECT within connectTimeout', async () => {
    const b = await startBroker({ connectTimeout: 200 })
    const raw = await RawClient.open(b.port)
    raw.write(connectBytes().subarray(0, 5))
    expect(await raw.closesWithin(2000)).toBe(true)
  })

  it('keeps a connected client past connectTimeout', async () => {
    const b = await startBroker({ connectTimeout: 200 })
    const { raw } = await RawClient.connect(b.port)
    expect(await raw.closesWithin(600)).toBe(false)
  })

  it('speaks MQTT 3.1 (protocol name MQIsdp, level 3) with MQTT.js, to and from 3.1.1 clients', async () => {
    const b = await startBroker()
    const v31 = await connectClient(b.url, { protocolVersion: 3, protocolId: 'MQIsdp' })
    expect(v31.connack.returnCode).toBe(0)
    const v311 = await connectClient(b.url)
    await v31.client.subscribeAsync('v31/in', { qos: 2 })
    await v311.client.subscribeAsync('v31/out', { qos: 2 })
    for (const qos of [0, 1, 2] as const) {
      await v311.client.publishAsync('v31/in', `to-31-q${qos}`, { qos })
      await v31.client.publishAsync('v31/out', `from-31-q${qos}`, { qos })
      const into = await v31.inbox.next()
      expect([into.payload.toString(), into.qos]).toEqual([`to-31-q${qos}`, qos])
      const out = await v311.inbox.next()
      expect([out.payload.toString(), out.qos]).toEqual([`from-31-q${qos}`, qos])
    }
  })

  it('accepts an MQTT 3.1 CONNECT on the wire', async () => {
    const b = await startBroker()
    const raw = await RawClient.open(b.port, 3)
    const connack = await raw.handshake({ clientId: 'v31-raw' })
    expect(connack.returnCode).toBe(0)
    raw.send({ cmd: 'pingreq' })
    await raw.next('pingresp')
  })
})
