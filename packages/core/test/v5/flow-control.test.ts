import type { IPublishPacket } from 'mqtt-packet'
import { describe, expect, it } from 'vitest'
import { connectV5, rawConnectV5, rawSubscribe } from '../helpers/v5.js'
import { startBroker } from '../helpers/start-broker.js'

const isPublish = (p: { cmd: string }) => p.cmd === 'publish'

describe('MQTT 5 flow control: the client Receive Maximum', () => {
  it('never has more unacknowledged QoS 1 publishes in flight than the client Receive Maximum [MQTT-3.3.4-9]', async () => {
    const b = await startBroker()
    const { raw } = await rawConnectV5(b.port, { properties: { receiveMaximum: 2 } })
    await rawSubscribe(raw, 'fc/q1', 1)
    for (let i = 0; i < 5; i++) await b.broker.publish({ topic: 'fc/q1', payload: `m${i}`, qos: 1 })
    const firstTwo = (await raw.packets.take(2, isPublish)) as IPublishPacket[]
    await raw.packets.expectNone(400, isPublish, 'no third PUBLISH before a PUBACK')
    raw.send({ cmd: 'puback', messageId: firstTwo[0]?.messageId ?? 0 })
    const third = (await raw.next('publish')) as IPublishPacket
    await raw.packets.expectNone(300, isPublish, 'exactly one more PUBLISH per PUBACK')
    for (const p of [firstTwo[1], third]) raw.send({ cmd: 'puback', messageId: p?.messageId ?? 0 })
    const rest = (await raw.packets.take(2, isPublish)) as IPublishPacket[]
    expect([...firstTwo, third, ...rest].map((p) => p.payload.toString())).toEqual(['m0', 'm1', 'm2', 'm3', 'm4'])
  })

  it('counts a QoS 2 delivery against Receive Maximum until PUBCOMP, not PUBREC [MQTT-3.3.4-9]', async () => {
    const b = await startBroker()
    const { raw } = await rawConnectV5(b.port, { properties: { receiveMaximum: 1 } })
    await rawSubscribe(raw, 'fc/q2', 2)
    await b.broker.publish({ topic: 'fc/q2', payload: 'first', qos: 2 })
    await b.broker.publish({ topic: 'fc/q2', payload: 'second', qos: 2 })
    const first = (await raw.next('publish')) as IPublishPacket
    raw.send({ cmd: 'pubrec', messageId: first.messageId ?? 0 })
    await raw.next('pubrel')
    await raw.packets.expectNone(300, isPublish, 'no PUBLISH before PUBCOMP')
    raw.send({ cmd: 'pubcomp', messageId: first.messageId ?? 0 })
    expect(((await raw.next('publish')) as IPublishPacket).payload.toString()).toBe('second')
  })

  it('does not hold back QoS 0 messages behind a full Receive Maximum window', async () => {
    const b = await startBroker()
    const { raw } = await rawConnectV5(b.port, { properties: { receiveMaximum: 1 } })
    await rawSubscribe(raw, 'fc/mixed', 1)
    await b.broker.publish({ topic: 'fc/mixed', payload: 'q1', qos: 1 })
    await b.broker.publish({ topic: 'fc/mixed', payload: 'q0', qos: 0 })
    const got = (await raw.packets.take(2, isPublish)) as IPublishPacket[]
    expect(got.map((p) => p.payload.toString()).sort()).toEqual(['q0', 'q1'])
  })
})

describe('MQTT 5 maximum packet size', () => {
  it('does not send a client a packet above the Maximum Packet Size it announced, others still get it [MQTT-3.1.2-24] [MQTT-3.1.2-25]', async () => {
    const b = await startBroker()
    const small = await connectV5(b.url, { properties: { maximumPacketSize: 100 } })
    await small.client.subscribeAsync('mps/#', { qos: 1 })
    const big = await connectV5(b.url)
    await big.client.subscribeAsync('mps/#', { qos: 1 })
    await b.broker.publish({ topic: 'mps/large', payload: Buffer.alloc(200, 0x61), qos: 1 })
    await b.broker.publish({ topic: 'mps/small', payload: 'tiny', qos: 1 })
    expect((await big.messages.take(2)).map((m) => m.topic)).toEqual(['mps/large', 'mps/small'])
    // the oversized message is discarded for this client, not queued in front of the next one
    expect((await small.messages.next()).topic).toBe('mps/small')
    await small.messages.expectNone(300)
    expect(small.client.connected).toBe(true)
  })

  it('announces the broker maxPacketSize as Maximum Packet Size in CONNACK, and nothing when unlimited (§3.2.2.3.6)', async () => {
    const limited = await startBroker({ maxPacketSize: 4096 })
    expect((await connectV5(limited.url)).connack.properties?.maximumPacketSize).toBe(4096)
    const unlimited = await startBroker()
    expect((await connectV5(unlimited.url)).connack.properties?.maximumPacketSize).toBeUndefined()
  })
})
