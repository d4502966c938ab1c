import { describe, expect, it } from 'vitest'
import { connectClient, RawClient, remainingLength, type TestClient } from './helpers/clients.js'
import { startBroker } from './helpers/start-broker.js'

/** A bystander subscribed to everything: it must keep working and must not see what was rejected. */
async function bystander(url: string): Promise<TestClient> {
  const client = await connectClient(url)
  await client.client.subscribeAsync('#', { qos: 1 })
  return client
}

/** The bystander can still publish and receive, and received nothing but its own messages. */
async function expectStillWorking(client: TestClient): Promise<void> {
  await client.client.publishAsync('still/working', 'yes', { qos: 1 })
  const message = await client.inbox.next((m) => m.topic === 'still/working')
  expect(message.payload.toString()).toBe('yes')
  expect(client.inbox.unread).toEqual([])
}

describe('input validation', () => {
  it.each(['a/+', 'a/#', '#', '+'])('disconnects a client that publishes to %j, and no one else', async (topic) => {
    const b = await startBroker()
    const other = await bystander(b.url)
    const { raw } = await RawClient.connect(b.port)
    raw.send({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 0, dup: false, retain: false })
    expect(await raw.closesWithin(2000)).toBe(true)
    await expectStillWorking(other)
  })

  it.each<[string, number[]]>([
    ['a remaining length of five bytes', [0x30, 0xff, 0xff, 0xff, 0xff, 0x01]],
    ['a PUBLISH with both QoS bits set [MQTT-3.3.1-4]', [0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01]],
    ['a PUBLISH whose topic runs past the packet', [0x30, 0x02, 0x00, 0x05]],
    ['a PUBLISH with an ill-formed UTF-8 topic [MQTT-1.5.3-1]', [0x30, 0x05, 0x00, 0x02, 0xc3, 0x28, 0x78]],
    ['a PUBLISH with a NUL in its topic [MQTT-1.5.3-2]', [0x30, 0x05, 0x00, 0x02, 0x61, 0x00, 0x78]],
    ['a PUBLISH with an empty topic [MQTT-4.7.3-1]', [0x30, 0x03, 0x00, 0x00, 0x78]],
    ['a QoS 1 PUBLISH with packet id 0 [MQTT-2.3.1-1]', [0x32, 0x06, 0x00, 0x01, 0x61, 0x00, 0x00, 0x78]],
    ['a SUBSCRIBE with reserved flags 0000 [MQTT-3.8.1-1]', [0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00]],
    ['a SUBSCRIBE without topic filters [MQTT-3.8.3-3]', [0x82, 0x02, 0x00, 0x01]],
    ['an UNSUBSCRIBE without topic filters [MQTT-3.10.3-2]', [0xa2, 0x02, 0x00, 0x01]],
    ['a SUBSCRIBE requesting QoS 3 [MQTT-3.8.3-4]', [0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x03]],
    ['an UNSUBSCRIBE with reserved flags 0000 [MQTT-3.10.1-1]', [0xa0, 0x05, 0x00, 0x01, 0x00, 0x01, 0x61]],
    ['a PUBREL with reserved flags 0000 [MQTT-3.6.1-1]', [0x60, 0x02, 0x00, 0x01]],
    ['the reserved packet type 0', [0x00, 0x00]],
    ['packet type 15 (AUTH, which 3.1.1 does not have)', [0xf0, 0x00]],
    ['a CONNACK, which only a server sends', [0x20, 0x02, 0x00, 0x00]],
  ])('disconnects a client that sends %s, and no one else', async (_what, bytes) => {
    const b = await startBroker()
    const other = await bystander(b.url)
    const { raw } = await RawClient.connect(b.port)
    raw.write(bytes)
    expect(await raw.closesWithin(2000)).toBe(true)
    await expectStillWorking(other)
  })

  it('disconnects a client whose packet is larger than maxPacketSize, and no one else', async () => {
    const b = await startBroker({ maxPacketSize: 1024 })
    const other = await bystander(b.url)
    await other.client.publishAsync('fits', Buffer.alloc(900, 1), { qos: 1 })
    await other.inbox.next((m) => m.topic === 'fits')
    const { raw } = await RawClient.connect(b.port)
    raw.send({ cmd: 'publish', topic: 'too/big', payload: Buffer.alloc(2000, 2), qos: 0, dup: false, retain: false })
    expect(await raw.closesWithin(2000)).toBe(true)
    await expectStillWorking(other)
  })

  it('disconnects as soon as a fixed header announces more than maxPacketSize, without waiting for the body', async () => {
    const b = await startBroker({ maxPacketSize: 1024 })
    const { raw } = await RawClient.connect(b.port)
    raw.write(Buffer.concat([Buffer.from([0x30]), remainingLength(10_000_000)]))
    expect(await raw.closesWithin(2000)).toBe(true)
  })

  it('disconnects a client whose CONNECT is larger than maxPacketSize', async () => {
    const b = await startBroker({ maxPacketSize: 1024 })
    const raw = await RawClient.open(b.port)
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'big', clean: true, keepalive: 60, username: 'u', password: Buffer.alloc(2000) })
    expect(await raw.closesWithin(2000)).toBe(true)
    expect(raw.packets.received.filter((p) => p.cmd === 'connack' && p.returnCode === 0)).toEqual([])
  })

  it('disconnects a client that publishes to a topic over maxTopicLength or maxTopicLevels', async () => {
    const b = await startBroker({ maxTopicLength: 16, maxTopicLevels: 3 })
    const other = await connectClient(b.url)
    await other.client.subscribeAsync('a/#', { qos: 1 })
    const long = await RawClient.connect(b.port)
    long.raw.send({ cmd: 'publish', topic: `a/${'x'.repeat(20)}`, payload: Buffer.from('x'), qos: 0, dup: false, retain: false })
    expect(await long.raw.closesWithin(2000)).toBe(true)
    const deep = await RawClient.connect(b.port)
    deep.raw.send({ cmd: 'publish', topic: 'a/b/c/d', payload: Buffer.from('x'), qos: 0, dup: false, retain: false })
    expect(await deep.raw.closesWithin(2000)).toBe(true)
    // within both limits is fine
    await other.client.publishAsync('a/b/c', 'ok', { qos: 1 })
    expect((await other.inbox.next()).topic).toBe('a/b/c')
    await other.inbox.expectNone(200)
  })
})
