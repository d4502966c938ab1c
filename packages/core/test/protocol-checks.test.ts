import { describe, expect, it } from 'vitest'
import { connectClient, encodeString, RawClient, remainingLength } from './helpers/clients.js'
import { connectV5, rawConnectV5, rawHandshakeV5 } from './helpers/v5.js'
import { startBroker } from './helpers/start-broker.js'

/** A packet from its first byte and its body. */
function frame(first: number, ...body: Array<Buffer | readonly number[]>): Buffer {
  const content = Buffer.concat(body.map((part) => (Buffer.isBuffer(part) ? part : Buffer.from(part))))
  return Buffer.concat([Buffer.from([first]), remainingLength(content.length), content])
}

/** A length-prefixed field holding exactly these bytes (which need not be valid UTF-8). */
function field(bytes: readonly number[] | Buffer): Buffer {
  const content = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes)
  return Buffer.concat([Buffer.from([content.length >> 8, content.length & 0xff]), content])
}

/** A v5 property list. */
function properties(...entries: Array<Buffer | readonly number[]>): Buffer {
  const content = Buffer.concat(entries.map((part) => (Buffer.isBuffer(part) ? part : Buffer.from(part))))
  return Buffer.concat([remainingLength(content.length), content])
}

/** A CONNECT with the given flags byte and payload fields after the client id. */
function connect(level: number, flags: number, clientId: Buffer, ...rest: Buffer[]): Buffer {
  return frame(0x10, encodeString('MQTT'), [level, flags, 0, 60], level === 5 ? [0] : [], clientId, ...rest)
}

const NUL_TEXT = field([0x61, 0x00, 0x62])
const ILL_FORMED = field([0xc3, 0x28])

describe('CONNECT: identity fields and flags (closed before CONNACK)', () => {
  it.each<[string, Buffer]>([
    ['a client id with U+0000 [MQTT-1.5.4-2]', connect(4, 0x02, encodeString('G\u0000V'))],
    ['a client id that is not UTF-8 [MQTT-1.5.4-1]', connect(4, 0x02, ILL_FORMED)],
    ['a user name with U+0000', connect(4, 0x82, encodeString('c1'), NUL_TEXT)],
    ['a user name that is not UTF-8', connect(4, 0x82, encodeString('c1'), ILL_FORMED)],
    ['a user name while its flag is 0 [MQTT-3.1.2-18]', connect(4, 0x02, encodeString('c1'), encodeString('user'))],
    ['a password while its flag is 0 [MQTT-3.1.2-20]', connect(4, 0x82, encodeString('c1'), encodeString('user'), field([1, 2, 3]))],
    ['a v5 client id with U+0000', connect(5, 0x02, encodeString('G\u0000V'))],
    ['a v5 user name while its flag is 0 [MQTT-3.1.2-16]', connect(5, 0x02, encodeString('c1'), encodeString('user'))],
    ['a v5 password while its flag is 0 [MQTT-3.1.2-18]', connect(5, 0x02, encodeString('c1'), field([1, 2, 3]))],
  ])('refuses %s', async (_what, bytes) => {
    const b = await startBroker()
    const raw = await RawClient.open(b.port)
    raw.write(bytes)
    expect(await raw.closesWithin(3000)).toBe(true)
    expect(raw.packets.received.filter((p) => p.cmd === 'connack')).toEqual([])
  })

  it('keeps a shared subscriber its messages when a client calls itself after its internal key', async () => {
    const b = await startBroker()
    const member = await connectClient(b.url, { clientId: 'V' })
    await member.client.subscribeAsync('$share/G/t', { qos: 0 })
    const raw = await RawClient.open(b.port)
    raw.write(connect(4, 0x02, encodeString('G\u0000V')))
    expect(await raw.closesWithin(3000)).toBe(true)
    await member.client.publishAsync('t', 'mine', { qos: 1 })
    expect((await member.inbox.next()).payload.toString()).toBe('mine')
  })
})

describe('MQTT 3.1.1: packets a connected client must not send', () => {
  it.each<[string, Buffer]>([
    ['a SUBSCRIBE filter with U+0000 [MQTT-1.5.3-2]', frame(0x82, [0, 1], NUL_TEXT, [0])],
    ['a SUBSCRIBE filter that is not UTF-8 [MQTT-1.5.3-1]', frame(0x82, [0, 1], ILL_FORMED, [0])],
    ['an empty SUBSCRIBE filter [MQTT-4.7.3-1]', frame(0x82, [0, 1], field([]), [0])],
    ['a bad SUBSCRIBE filter after 2,000 good ones (no SUBACK for any)', frame(0x82, [0, 1], ...Array.from({ length: 2000 }, (_, i) => [...encodeString(`ok/${i}`), 0]), NUL_TEXT, [0])],
    ['an UNSUBSCRIBE filter with U+0000', frame(0xa2, [0, 1], NUL_TEXT)],
    ['an UNSUBSCRIBE filter that is not UTF-8', frame(0xa2, [0, 1], ILL_FORMED)],
    ['an empty UNSUBSCRIBE filter [MQTT-4.7.3-1]', frame(0xa2, [0, 1], field([]))],
    ['a PUBACK with a remaining length of 3', frame(0x40, [0, 1, 0])],
    ['a PUBREC with a remaining length of 3', frame(0x50, [0, 1, 0])],
    ['a PUBREL with a remaining length of 3', frame(0x62, [0, 1, 0])],
    ['a PUBCOMP with a remaining length of 3', frame(0x70, [0, 1, 0])],
    ['a PINGREQ with a payload', frame(0xc0, [0])],
    ['a QoS 0 PUBLISH with DUP set [MQTT-3.3.1-2]', frame(0x38, encodeString('a'), Buffer.from('x'))],
    ['a SUBACK', frame(0x90, [0, 1, 0])],
    ['an UNSUBACK', frame(0xb0, [0, 1])],
    ['a PINGRESP', frame(0xd0)],
  ])('closes on %s', async (_what, bytes) => {
    const b = await startBroker()
    const { raw } = await RawClient.connect(b.port)
    raw.write(bytes)
    expect(await raw.closesWithin(3000)).toBe(true)
    expect(raw.packets.received.filter((p) => p.cmd === 'suback' || p.cmd === 'unsuback')).toEqual([])
  })

  it('delivers a PUBLISH whose topic holds a valid U+FFFD', async () => {
    const b = await startBroker()
    const subscriber = await connectClient(b.url)
    await subscriber.client.subscribeAsync('fffd/#', { qos: 0 })
    const { raw } = await RawClient.connect(b.port)
    raw.write(frame(0x30, encodeString('fffd/\uFFFD'), Buffer.from('x')))
    expect((await subscriber.inbox.next()).topic).toBe('fffd/\uFFFD')
    expect(raw.isClosed).toBe(false)
  })
})

/** A v5 PUBLISH QoS 0 to `topic` (raw bytes) with these properties. */
function publishV5(topic: Buffer, props: Buffer): Buffer {
  return frame(0x30, topic, props, Buffer.from('x'))
}

const TOPIC = encodeString('p/t')

describe('MQTT 5: protocol errors (0x82) and malformed packets (0x81) end the connection with DISCONNECT', () => {
  it.each<[string, Buffer, number]>([
    ['a duplicated Message Expiry Interval', publishV5(TOPIC, properties([2, 0, 0, 0, 9], [2, 0, 0, 0, 0])), 0x82],
    ['a duplicated Content Type', publishV5(TOPIC, properties([3], encodeString('a'), [3], encodeString('b'))), 0x82],
    ['a duplicated Response Topic', publishV5(TOPIC, properties([8], encodeString('r/1'), [8], encodeString('r/2'))), 0x82],
    ['a duplicated Correlation Data', publishV5(TOPIC, properties([9], field([1]), [9], field([2]))), 0x82],
    ['a duplicated Payload Format Indicator', publishV5(TOPIC, properties([1, 0], [1, 0])), 0x82],
    ['a duplicated Topic Alias', publishV5(TOPIC, properties([35, 0, 1], [35, 0, 2])), 0x82],
    ['U+0000 in a Response Topic', publishV5(TOPIC, properties([8], NUL_TEXT)), 0x81],
    ['U+0000 in a User Property', publishV5(TOPIC, properties([38], encodeString('k'), NUL_TEXT)), 0x81],
    ['U+0000 in a PUBLISH topic', publishV5(NUL_TEXT, properties()), 0x81],
    ['a property PUBLISH may not carry (Session Expiry Interval)', publishV5(TOPIC, properties([17, 0, 0, 0, 1])), 0x81],
    ['a SUBSCRIBE filter with U+0000', frame(0x82, [0, 1], properties(), NUL_TEXT, [0]), 0x81],
    ['a SUBSCRIBE filter that is not UTF-8', frame(0x82, [0, 1], properties(), encodeString('s/t'), [0], ILL_FORMED, [0]), 0x81],
    ['an empty SUBSCRIBE filter', frame(0x82, [0, 1], properties(), field([]), [0]), 0x81],
    ['a SUBSCRIBE with Subscription Identifier 0 (§3.8.2.1.2)', frame(0x82, [0, 1], properties([11, 0]), encodeString('s/t'), [0]), 0x82],
    ['SUBSCRIBE options with a reserved bit set [MQTT-3.8.3-5]', frame(0x82, [0, 1], properties(), encodeString('s/t'), [0x40]), 0x81],
    ['SUBSCRIBE options with Retain Handling 3', frame(0x82, [0, 1], properties(), encodeString('s/t'), [0x30]), 0x81],
    ['a SUBSCRIBE whose property list runs past the packet', frame(0x82, [0, 1], [5, 11]), 0x81],
    ['a SUBSCRIBE filter without its options byte', frame(0x82, [0, 1], properties(), encodeString('s/t')), 0x81],
    ['an empty UNSUBSCRIBE filter', frame(0xa2, [0, 1], properties(), field([])), 0x81],
    ['an UNSUBSCRIBE filter that is not UTF-8', frame(0xa2, [0, 1], properties(), ILL_FORMED), 0x81],
    ['a PUBACK with a remaining length of 1', frame(0x40, [0]), 0x81],
    ['a PUBREC with a remaining length of 1', frame(0x50, [0]), 0x81],
    ['a PUBREL with a remaining length of 1', frame(0x62, [0]), 0x81],
    ['a PUBCOMP with a remaining length of 1', frame(0x70, [0]), 0x81],
    ['a CONNACK (only a server sends it, §4.13)', frame(0x20, [0, 0, 0]), 0x82],
    ['a SUBACK', frame(0x90, [0, 1, 0, 0]), 0x82],
    ['an UNSUBACK', frame(0xb0, [0, 1, 0, 0]), 0x82],
    ['a PINGRESP', frame(0xd0), 0x82],
  ])('%s', async (_what, bytes, reasonCode) => {
    const b = await startBroker()
    const { raw } = await rawConnectV5(b.port)
    raw.write(bytes)
    expect((await raw.next('disconnect')).reasonCode).toBe(reasonCode)
    expect(await raw.closesWithin(3000)).toBe(true)
  })

  it('closes with 0x97 a packet with more User Properties than maxUserProperties', async () => {
    const b = await startBroker({ maxUserProperties: 3 })
    const { raw } = await rawConnectV5(b.port)
    raw.write(publishV5(TOPIC, properties(PAIR, PAIR, PAIR)))
    raw.send({ cmd: 'pingreq' })
    await raw.next('pingresp')
    raw.write(publishV5(TOPIC, properties(PAIR, PAIR, PAIR, PAIR)))
    expect((await raw.next('disconnect')).reasonCode).toBe(0x97)
  })
})

/** One User Property `k: v`. */
const PAIR = Buffer.concat([Buffer.from([38]), encodeString('k'), encodeString('v')])
/** A User Property whose value is not UTF-8: a packet that gets this far is malformed (0x81). */
const ILL_FORMED_PAIR = Buffer.concat([Buffer.from([38]), encodeString('k'), ILL_FORMED])
/** Four User Properties, one past a cap of 3, then one that would make the packet malformed if it were read. */
const OVER_CAP = properties(PAIR, PAIR, PAIR, PAIR, ILL_FORMED_PAIR)

describe('MQTT 5: User Properties past maxUserProperties, in every packet that carries them', () => {
  it.each<[string, Buffer]>([
    ['PUBLISH', publishV5(TOPIC, OVER_CAP)],
    ['SUBSCRIBE', frame(0x82, [0, 1], OVER_CAP, encodeString('s/t'), [0])],
    ['UNSUBSCRIBE', frame(0xa2, [0, 1], OVER_CAP, encodeString('s/t'))],
    ['PUBACK', frame(0x40, [0, 1, 0], OVER_CAP)],
    ['DISCONNECT', frame(0xe0, [0], OVER_CAP)],
  ])('%s: refused with DISCONNECT 0x97 once the cap is passed (the rest is not read); another client carries on', async (_what, bytes) => {
    const b = await startBroker({ maxUserProperties: 3 })
    const bystander = await connectV5(b.url)
    await bystander.client.subscribeAsync('after/#', { qos: 1 })
    const { raw } = await rawConnectV5(b.port)
    raw.write(bytes)
    expect((await raw.next('disconnect')).reasonCode).toBe(0x97)
    expect(await raw.closesWithin(3000)).toBe(true)
    await b.broker.publish({ topic: 'after/refusal', payload: 'still here', qos: 1, retain: false })
    expect((await bystander.inbox.next()).payload.toString()).toBe('still here')
  })

  it('refuses a PUBLISH from its first bytes, without waiting for the rest, once they hold too many User Properties', async () => {
    const b = await startBroker({ maxUserProperties: 3 })
    const { raw } = await rawConnectV5(b.port)
    const payload = 200_000
    const list = properties(PAIR, PAIR, PAIR, PAIR)
    const head = Buffer.concat([TOPIC, list])
    // The fixed header announces 200 kB of payload; only the topic and the properties are sent.
    raw.write(Buffer.concat([Buffer.from([0x30]), remainingLength(head.length + payload), head]))
    expect((await raw.next('disconnect')).reasonCode).toBe(0x97)
  })

  it('takes a large PUBLISH whose first bytes hold User Properties up to the cap', async () => {
    const b = await startBroker({ maxUserProperties: 3 })
    const subscriber = await connectV5(b.url)
    await subscriber.client.subscribeAsync('p/#', { qos: 0 })
    const { raw } = await rawConnectV5(b.port)
    const frameBytes = publishV5(TOPIC, properties(PAIR, PAIR, PAIR))
    const large = frame(0x30, TOPIC, properties(PAIR, PAIR, PAIR), Buffer.alloc(200_000, 1))
    raw.write(large.subarray(0, 100))
    raw.write(large.subarray(100))
    expect((await subscriber.inbox.next()).payload.length).toBe(200_000)
    raw.write(frameBytes)
    expect((await subscriber.inbox.next()).payload.toString()).toBe('x')
  })

  it.each<[string, Buffer]>([
    ['in its properties', frame(0x10, encodeString('MQTT'), [5, 0x02, 0, 60], OVER_CAP, encodeString('c1'))],
    ['in its will properties', frame(0x10, encodeString('MQTT'), [5, 0x06, 0, 60], properties(), encodeString('c1'), OVER_CAP, encodeString('w/t'), field([1]))],
  ])('CONNECT with too many %s: closed without CONNACK', async (_what, bytes) => {
    const b = await startBroker({ maxUserProperties: 3 })
    const raw = await RawClient.open(b.port, 5)
    raw.write(bytes)
    expect(await raw.closesWithin(3000)).toBe(true)
    expect(raw.packets.received.filter((p) => p.cmd === 'connack')).toEqual([])
  })
})

describe('MQTT 5 CONNACK and the client Maximum Packet Size [MQTT-3.1.2-24]', () => {
  it('leaves the Reason String out of a refusal that would not fit', async () => {
    const b = await startBroker({ hooks: { preConnect: () => false } })
    const { raw, connack } = await rawHandshakeV5(b.port, { properties: { maximumPacketSize: 8 } })
    expect(connack.reasonCode).toBe(0x87)
    expect(connack.properties?.reasonString).toBeUndefined()
    expect(raw.parseErrors).toEqual([])
  })

  it('closes without CONNACK when even the smallest accepting CONNACK would not fit', async () => {
    const b = await startBroker()
    const raw = await RawClient.open(b.port, 5)
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: '', clean: true, keepalive: 60, properties: { maximumPacketSize: 12 } })
    expect(await raw.closesWithin(3000)).toBe(true)
    expect(raw.packets.received.filter((p) => p.cmd === 'connack')).toEqual([])
  })

  it('leaves out properties whose value is the default', async () => {
    const b = await startBroker()
    const { connack } = await rawConnectV5(b.port)
    expect(connack.properties).toEqual({ topicAliasMaximum: 65535 })
  })
})
