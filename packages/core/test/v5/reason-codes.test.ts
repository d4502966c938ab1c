import { describe, expect, it } from 'vitest'
import { generate } from 'mqtt-packet'
import { connectV5, rawConnectV5, rawSubscribe } from '../helpers/v5.js'
import { startBroker } from '../helpers/start-broker.js'

const publish = (topic: string, qos: 0 | 1 | 2, messageId?: number, extra: object = {}) =>
  ({ cmd: 'publish', topic, payload: Buffer.from('x'), qos, retain: false, dup: false, ...(messageId === undefined ? {} : { messageId }), ...extra }) as const

describe('MQTT 5 reason codes in acknowledgements', () => {
  it('SUBACK 0x8F for an invalid topic filter, next to a granted one (§3.9.3)', async () => {
    const b = await startBroker()
    const { raw } = await rawConnectV5(b.port)
    raw.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'a/#/b', qos: 1 }, { topic: 'ok/+', qos: 1 }] })
    const suback = await raw.next('suback')
    expect(suback.granted).toEqual([0x8f, 1])
    expect(raw.isClosed).toBe(false)
  })

  it('SUBACK 0x87 when the authorizeSubscribe hook denies, and no delivery follows (§3.9.3)', async () => {
    const b = await startBroker({ hooks: { authorizeSubscribe: () => false } })
    const { raw } = await rawConnectV5(b.port)
    const suback = await rawSubscribe(raw, 'secret/#', 1)
    expect(suback.granted).toEqual([0x87])
    await b.broker.publish({ topic: 'secret/x', payload: 'x', qos: 1 })
    await raw.packets.expectNone(300, (p) => p.cmd === 'publish')
  })

  it('PUBACK 0x87 when the authorizePublish hook denies, and the message is not routed (§3.4.2.1)', async () => {
    const b = await startBroker({ hooks: { authorizePublish: () => false } })
    const sub = await connectV5(b.url)
    await sub.client.subscribeAsync('denied/#', { qos: 1 })
    const { raw } = await rawConnectV5(b.port)
    raw.send(publish('denied/t', 1, 11))
    const puback = await raw.next('puback')
    expect([puback.messageId, puback.reasonCode]).toEqual([11, 0x87])
    await sub.messages.expectNone(300)
  })

  it('PUBREC 0x87 when the authorizePublish hook denies a QoS 2 publish (§3.5.2.1)', async () => {
    const b = await startBroker({ hooks: { authorizePublish: () => false } })
    const { raw } = await rawConnectV5(b.port)
    raw.send(publish('denied/t', 2, 12))
    const pubrec = await raw.next('pubrec')
    expect([pubrec.messageId, pubrec.reasonCode]).toEqual([12, 0x87])
  })

  it('UNSUBACK 0x11 for a filter with no subscription, 0x00 for one that existed (§3.11.3)', async () => {
    const b = await startBroker()
    const { raw } = await rawConnectV5(b.port)
    await rawSubscribe(raw, 'exists/+', 1)
    raw.send({ cmd: 'unsubscribe', messageId: 5, unsubscriptions: ['never/subscribed', 'exists/+'] })
    const unsuback = await raw.next('unsuback')
    expect(unsuback.granted).toEqual([0x11, 0x00])
  })

  it('PUBCOMP 0x92 for a PUBREL with an unknown packet id (§3.7.2.1)', async () => {
    const b = await startBroker()
    const { raw } = await rawConnectV5(b.port)
    raw.send({ cmd: 'pubrel', messageId: 321 })
    const pubcomp = await raw.next('pubcomp')
    expect([pubcomp.messageId, pubcomp.reasonCode]).toEqual([321, 0x92])
  })

  it('PUBREL 0x92 for a PUBREC with an unknown packet id (§3.6.2.1)', async () => {
    const b = await startBroker()
    const { raw } = await rawConnectV5(b.port)
    raw.send({ cmd: 'pubrec', messageId: 654 })
    const pubrel = await raw.next('pubrel')
    expect([pubrel.messageId, pubrel.reasonCode]).toEqual([654, 0x92])
  })
})

describe('MQTT 5 DISCONNECT from the server', () => {
  it('0x8E to the old connection on session takeover [MQTT-3.1.4-3]', async () => {
    const b = await startBroker()
    const first = await connectV5(b.url, { clientId: 'takeover-v5' })
    await connectV5(b.url, { clientId: 'takeover-v5' })
    expect((await first.disconnects.next()).reasonCode).toBe(0x8e)
  })

  it('0x8D when the keepalive expires [MQTT-3.1.2-22]', async () => {
    const b = await startBroker()
    const { raw } = await rawConnectV5(b.port, { keepalive: 1 })
    const started = Date.now()
    expect((await raw.next('disconnect', 4000)).reasonCode).toBe(0x8d)
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000)
    expect(await raw.closesWithin(1000)).toBe(true)
  })

  it('0x81 for a malformed packet (a PUBLISH with both QoS bits set) [MQTT-3.3.1-4]', async () => {
    const b = await startBroker()
    const { raw } = await rawConnectV5(b.port)
    raw.write([0x36, 0x06, 0x00, 0x01, 0x61, 0x00, 0x01, 0x00])
    expect((await raw.next('disconnect')).reasonCode).toBe(0x81)
    expect(await raw.closesWithin(2000)).toBe(true)
  })

  it('0x81 for a PUBLISH carrying an unknown property identifier (§2.2.2.2)', async () => {
    const b = await startBroker()
    const { raw } = await rawConnectV5(b.port)
    // topic "a", properties length 2: identifier 0x7F does not exist
    raw.write([0x30, 0x06, 0x00, 0x01, 0x61, 0x02, 0x7f, 0x00])
    expect((await raw.next('disconnect')).reasonCode).toBe(0x81)
    expect(await raw.closesWithin(2000)).toBe(true)
  })

  it('0x82 for a second CONNECT [MQTT-3.1.0-2]', async () => {
    const b = await startBroker()
    const { raw } = await rawConnectV5(b.port)
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'again', clean: true, keepalive: 60 })
    expect((await raw.next('disconnect')).reasonCode).toBe(0x82)
    expect(await raw.closesWithin(2000)).toBe(true)
  })

  it('0x95 for a packet larger than the broker maxPacketSize, which CONNACK announced (§3.2.2.3.6)', async () => {
    const b = await startBroker({ maxPacketSize: 200 })
    const sub = await connectV5(b.url)
    await sub.client.subscribeAsync('big/#', { qos: 1 })
    const { raw, connack } = await rawConnectV5(b.port)
    expect(connack.properties?.maximumPacketSize).toBe(200)
    raw.send({ cmd: 'publish', topic: 'big/t', payload: Buffer.alloc(500, 0x61), qos: 0, retain: false, dup: false })
    expect((await raw.next('disconnect')).reasonCode).toBe(0x95)
    expect(await raw.closesWithin(2000)).toBe(true)
    await sub.messages.expectNone(200)
  })

  it('0x8B to every client on broker.close()', async () => {
    const b = await startBroker()
    const one = await connectV5(b.url)
    const { raw } = await rawConnectV5(b.port)
    await b.close()
    expect((await one.disconnects.next()).reasonCode).toBe(0x8b)
    expect((await raw.next('disconnect')).reasonCode).toBe(0x8b)
  })

  it('0x93 when a client sends more QoS 1 publishes than Receive Maximum while none is acknowledged yet (§3.3.4)', async () => {
    // An authorizePublish held until the DISCONNECT keeps the first PUBACK from being sent while the next two arrive.
    // (With an immediate PUBACK the server has acknowledged each before reading the next: no quota is exceeded, as in
    // Mosquitto.)
    let release = (): void => {}
    const held = new Promise<undefined>((resolve) => (release = () => resolve(undefined)))
    const b = await startBroker({ receiveMaximum: 2, hooks: { authorizePublish: () => held } })
    const { raw, connack } = await rawConnectV5(b.port)
    expect(connack.properties?.receiveMaximum).toBe(2)
    const bytes = Buffer.concat([1, 2, 3].map((id) => generate(publish('rm/t', 1, id), { protocolVersion: 5 })))
    raw.write(bytes)
    expect((await raw.next('disconnect')).reasonCode).toBe(0x93)
    release()
    expect(await raw.closesWithin(2000)).toBe(true)
  })

  it('0x93 when a client leaves more QoS 2 publishes unreleased than Receive Maximum (§3.3.4)', async () => {
    const b = await startBroker({ receiveMaximum: 2 })
    const { raw } = await rawConnectV5(b.port)
    raw.send(publish('rm/t', 2, 1))
    raw.send(publish('rm/t', 2, 2))
    await raw.packets.take(2, (p) => p.cmd === 'pubrec')
    raw.send(publish('rm/t', 2, 3))
    expect((await raw.next('disconnect')).reasonCode).toBe(0x93)
    expect(await raw.closesWithin(2000)).toBe(true)
  })

  it('0x94 for Topic Alias 0 [MQTT-3.3.2-8]', async () => {
    const b = await startBroker()
    const { raw } = await rawConnectV5(b.port)
    raw.write(aliasPublish('ta/t', 0))
    expect((await raw.next('disconnect')).reasonCode).toBe(0x94)
    expect(await raw.closesWithin(2000)).toBe(true)
  })

  it('0x94 for a Topic Alias above the broker topicAliasMaximum [MQTT-3.3.2-9]', async () => {
    const b = await startBroker({ topicAliasMaximum: 5 })
    const { raw, connack } = await rawConnectV5(b.port)
    expect(connack.properties?.topicAliasMaximum).toBe(5)
    raw.send(publish('ta/t', 0, undefined, { properties: { topicAlias: 6 } }))
    expect((await raw.next('disconnect')).reasonCode).toBe(0x94)
    expect(await raw.closesWithin(2000)).toBe(true)
  })
})

/** A QoS 0 PUBLISH with a Topic Alias property, hand-encoded because mqtt-packet refuses alias 0. */
function aliasPublish(topic: string, alias: number): Buffer {
  const topicBytes = Buffer.from(topic)
  const body = Buffer.concat([
    Buffer.from([topicBytes.length >> 8, topicBytes.length & 0xff]),
    topicBytes,
    Buffer.from([0x03, 0x23, alias >> 8, alias & 0xff]),
    Buffer.from('x'),
  ])
  return Buffer.concat([Buffer.from([0x30, body.length]), body])
}
