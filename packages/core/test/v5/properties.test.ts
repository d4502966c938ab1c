import { describe, expect, it } from 'vitest'
import { connectV5, rawConnectV5, subscriptionIds } from '../helpers/v5.js'
import { startBroker } from '../helpers/start-broker.js'

const invalidUtf8 = Buffer.from([0x66, 0x6f, 0xff, 0xfe])

describe('MQTT 5 publish properties end to end', () => {
  it('forwards the Payload Format Indicator unaltered [MQTT-3.3.2-4]', async () => {
    const b = await startBroker()
    const sub = await connectV5(b.url)
    await sub.client.subscribeAsync('pfi/#', { qos: 1 })
    const pub = await connectV5(b.url)
    await pub.client.publishAsync('pfi/utf8', 'héllo', { qos: 1, properties: { payloadFormatIndicator: true } })
    await pub.client.publishAsync('pfi/bytes', Buffer.from([1, 2, 3]), { qos: 1 })
    const utf8 = await sub.messages.next((m) => m.topic === 'pfi/utf8')
    const bytes = await sub.messages.next((m) => m.topic === 'pfi/bytes')
    expect(utf8.properties.payloadFormatIndicator).toBe(true)
    expect(utf8.payload.toString()).toBe('héllo')
    expect(bytes.properties.payloadFormatIndicator ?? false).toBe(false)
  })

  it('answers PUBACK 0x99 to a QoS 1 publish whose payload claims UTF-8 and is not, and does not forward it (§3.3.2.3.2)', async () => {
    const b = await startBroker()
    const sub = await connectV5(b.url)
    await sub.client.subscribeAsync('pfi/#', { qos: 1 })
    const { raw } = await rawConnectV5(b.port)
    raw.send({ cmd: 'publish', topic: 'pfi/bad', payload: invalidUtf8, qos: 1, messageId: 7, retain: false, dup: false, properties: { payloadFormatIndicator: true } })
    const puback = await raw.next('puback')
    expect([puback.messageId, puback.reasonCode]).toEqual([7, 0x99])
    await sub.messages.expectNone(300)
    // the connection stays usable
    raw.send({ cmd: 'publish', topic: 'pfi/good', payload: Buffer.from('ok'), qos: 1, messageId: 8, retain: false, dup: false, properties: { payloadFormatIndicator: true } })
    expect((await raw.next('puback')).reasonCode).toBe(0)
    expect((await sub.messages.next()).topic).toBe('pfi/good')
    // A payload larger than one socket read is kept in the reads it came in: checked whole all the same.
    const large = Buffer.concat([Buffer.alloc(100_000, 0x61), invalidUtf8])
    raw.send({ cmd: 'publish', topic: 'pfi/bad', payload: large, qos: 1, messageId: 9, retain: false, dup: false, properties: { payloadFormatIndicator: true } })
    expect((await raw.next('puback')).reasonCode).toBe(0x99)
    const text = Buffer.from(`${'a'.repeat(99_999)}é`)
    raw.send({ cmd: 'publish', topic: 'pfi/large', payload: text, qos: 1, messageId: 10, retain: false, dup: false, properties: { payloadFormatIndicator: true } })
    expect((await raw.next('puback')).reasonCode).toBe(0)
    const delivered = await sub.messages.next()
    expect([delivered.topic, Buffer.from(delivered.payload).equals(text)]).toEqual(['pfi/large', true])
  })

  it('disconnects with 0x99 a QoS 0 publish whose payload claims UTF-8 and is not (§3.3.2.3.2)', async () => {
    const b = await startBroker()
    const sub = await connectV5(b.url)
    await sub.client.subscribeAsync('pfi/#', { qos: 1 })
    const { raw } = await rawConnectV5(b.port)
    raw.send({ cmd: 'publish', topic: 'pfi/bad', payload: invalidUtf8, qos: 0, retain: false, dup: false, properties: { payloadFormatIndicator: true } })
    expect((await raw.next('disconnect')).reasonCode).toBe(0x99)
    expect(await raw.closesWithin(2000)).toBe(true)
    await sub.messages.expectNone(200)
  })

  it('forwards the Content Type unaltered [MQTT-3.3.2-20]', async () => {
    const b = await startBroker()
    const sub = await connectV5(b.url)
    await sub.client.subscribeAsync('ct/#', { qos: 1 })
    const pub = await connectV5(b.url)
    await pub.client.publishAsync('ct/json', '{"a":1}', { qos: 1, properties: { contentType: 'application/json; charset=utf-8' } })
    expect((await sub.messages.next()).properties.contentType).toBe('application/json; charset=utf-8')
  })

  it('carries Response Topic and Correlation Data through a request/response round trip [MQTT-3.3.2-15] [MQTT-3.3.2-16]', async () => {
    const b = await startBroker()
    const responder = await connectV5(b.url)
    await responder.client.subscribeAsync('service/echo', { qos: 1 })
    responder.client.on('message', (_topic, payload, packet) => {
      const { responseTopic, correlationData } = packet.properties ?? {}
      if (responseTopic === undefined) return
      responder.client.publish(responseTopic, Buffer.concat([Buffer.from('echo:'), payload]), { qos: 1, properties: { correlationData } })
    })
    const requester = await connectV5(b.url)
    await requester.client.subscribeAsync('reply/requester-1', { qos: 1 })
    const correlation = Buffer.from([0x00, 0x01, 0xfe, 0xff, 0x42])
    await requester.client.publishAsync('service/echo', 'ping', { qos: 1, properties: { responseTopic: 'reply/requester-1', correlationData: correlation } })
    const request = await responder.messages.next()
    expect(request.properties.responseTopic).toBe('reply/requester-1')
    expect(Buffer.compare(request.properties.correlationData ?? Buffer.alloc(0), correlation)).toBe(0)
    const reply = await requester.messages.next()
    expect(reply.topic).toBe('reply/requester-1')
    expect(reply.payload.toString()).toBe('echo:ping')
    expect(Buffer.compare(reply.properties.correlationData ?? Buffer.alloc(0), correlation)).toBe(0)
  })

  it('forwards User Properties unaltered and in order, repeated keys included [MQTT-3.3.2-17] [MQTT-3.3.2-18]', async () => {
    const b = await startBroker()
    const sub = await connectV5(b.url)
    await sub.client.subscribeAsync('up/#', { qos: 1 })
    const { raw } = await rawConnectV5(b.port)
    const userProperties = { zeta: 'last-letter', alpha: ['2', '1', '3'], mid: 'ü-nicode' }
    raw.send({ cmd: 'publish', topic: 'up/t', payload: Buffer.from('x'), qos: 1, messageId: 1, retain: false, dup: false, properties: { userProperties } })
    await raw.next('puback')
    const message = await sub.messages.next()
    expect(Object.entries(message.properties.userProperties ?? {})).toEqual(Object.entries(userProperties))
  })

  it('sends the Subscription Identifier of the matching subscription [MQTT-3.3.4-3]', async () => {
    const b = await startBroker()
    const sub = await connectV5(b.url)
    await sub.client.subscribeAsync('sid/a', { qos: 1, properties: { subscriptionIdentifier: 42 } })
    await sub.client.subscribeAsync('other/#', { qos: 1 })
    await b.broker.publish({ topic: 'sid/a', payload: 'one', qos: 1 })
    await b.broker.publish({ topic: 'other/x', payload: 'two', qos: 1 })
    expect(subscriptionIds((await sub.messages.next((m) => m.topic === 'sid/a')).properties)).toEqual([42])
    expect(subscriptionIds((await sub.messages.next((m) => m.topic === 'other/x')).properties)).toEqual([])
  })

  it('replaces the Subscription Identifier when the same filter is subscribed again, and drops it when the new SUBSCRIBE has none (§3.8.2.1.2)', async () => {
    const b = await startBroker()
    const sub = await connectV5(b.url)
    await sub.client.subscribeAsync('sid/re', { qos: 1, properties: { subscriptionIdentifier: 1 } })
    await sub.client.subscribeAsync('sid/re', { qos: 1, properties: { subscriptionIdentifier: 2 } })
    await b.broker.publish({ topic: 'sid/re', payload: 'a', qos: 1 })
    expect(subscriptionIds((await sub.messages.next()).properties)).toEqual([2])
    await sub.client.subscribeAsync('sid/re', { qos: 1 })
    await b.broker.publish({ topic: 'sid/re', payload: 'b', qos: 1 })
    expect(subscriptionIds((await sub.messages.next()).properties)).toEqual([])
  })

  it('sends one copy at the highest QoS carrying every matching Subscription Identifier for overlapping subscriptions [MQTT-3.3.4-2] [MQTT-3.3.4-4]', async () => {
    const b = await startBroker()
    const sub = await connectV5(b.url)
    await sub.client.subscribeAsync('ov/+', { qos: 0, properties: { subscriptionIdentifier: 1 } })
    await sub.client.subscribeAsync('ov/#', { qos: 1, properties: { subscriptionIdentifier: 2 } })
    await sub.client.subscribeAsync('ov/b', { qos: 0 })
    const other = await connectV5(b.url)
    await other.client.subscribeAsync('ov/b', { qos: 1, properties: { subscriptionIdentifier: 99 } })
    const pub = await connectV5(b.url)
    await pub.client.publishAsync('ov/b', 'overlap', { qos: 2 })
    const message = await sub.messages.next()
    expect(message.qos).toBe(1)
    expect(subscriptionIds(message.properties)).toEqual([1, 2])
    await sub.messages.expectNone(300)
    expect(subscriptionIds((await other.messages.next()).properties)).toEqual([99])
  })
})

describe('MQTT 5 large payloads', () => {
  it('delivers a payload written after its header (not copied) whole, with its properties, and keeps it from a client whose Maximum Packet Size is smaller [MQTT-3.1.2-25]', async () => {
    const b = await startBroker()
    const sub = await connectV5(b.url, { properties: { topicAliasMaximum: 5 } })
    await sub.client.subscribeAsync('large/#', { qos: 1, properties: { subscriptionIdentifier: 7 } })
    const small = await connectV5(b.url, { properties: { maximumPacketSize: 50_000 } })
    await small.client.subscribeAsync('large/#', { qos: 1 })
    const payload = Buffer.alloc(100_000)
    for (let i = 0; i < payload.length; i++) payload[i] = i % 253
    const pub = await connectV5(b.url)
    await pub.client.publishAsync('large/one', payload, { qos: 1, properties: { contentType: 'application/octet-stream', userProperties: { k: 'v' } } })
    await pub.client.publishAsync('large/two', 'tiny', { qos: 1 })
    const got = await sub.messages.next((m) => m.topic === 'large/one')
    expect(got.payload.equals(payload)).toBe(true)
    expect(got.properties.contentType).toBe('application/octet-stream')
    expect(got.properties.userProperties).toEqual({ k: 'v' })
    expect(subscriptionIds(got.properties)).toEqual([7])
    expect((await small.messages.next()).topic).toBe('large/two')
  })
})
