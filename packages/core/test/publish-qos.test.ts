import type { IPublishPacket } from 'mqtt-packet'
import { describe, expect, it } from 'vitest'
import { connectClient, RawClient, uniqueId } from './helpers/clients.js'
import { startBroker } from './helpers/start-broker.js'

function publishPacket(topic: string, payload: string, qos: 0 | 1 | 2, messageId?: number, dup = false): IPublishPacket {
  return { cmd: 'publish', topic, payload: Buffer.from(payload), qos, dup, retain: false, ...(messageId === undefined ? {} : { messageId }) }
}

describe('publishing at QoS 0, 1 and 2', () => {
  it.each([0, 1, 2] as const)('delivers a QoS %i message from an MQTT.js publisher to an MQTT.js subscriber', async (qos) => {
    const b = await startBroker()
    const sub = await connectClient(b.url)
    await sub.client.subscribeAsync('qos/t', { qos: 2 })
    const pub = await connectClient(b.url)
    await pub.client.publishAsync('qos/t', `hello-${qos}`, { qos })
    const message = await sub.inbox.next()
    expect(message).toMatchObject({ topic: 'qos/t', qos, retain: false, dup: false })
    expect(message.payload.toString()).toBe(`hello-${qos}`)
  })

  it('acknowledges inbound QoS 1 with PUBACK and QoS 2 with PUBREC / PUBCOMP, QoS 0 not at all', async () => {
    const b = await startBroker()
    const { raw } = await RawClient.connect(b.port)
    raw.send(publishPacket('in/q0', 'a', 0))
    raw.send(publishPacket('in/q1', 'b', 1, 11))
    expect((await raw.next('puback')).messageId).toBe(11)
    raw.send(publishPacket('in/q2', 'c', 2, 12))
    expect((await raw.next('pubrec')).messageId).toBe(12)
    raw.send({ cmd: 'pubrel', messageId: 12 })
    expect((await raw.next('pubcomp')).messageId).toBe(12)
    await raw.packets.expectNone(200)
  })

  it('runs the outbound QoS 1 and QoS 2 flows with the subscriber', async () => {
    const b = await startBroker()
    const { raw } = await RawClient.connect(b.port)
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'out/#', qos: 2 }] })
    expect((await raw.next('suback')).granted).toEqual([2])
    const pub = await connectClient(b.url)

    await pub.client.publishAsync('out/1', 'one', { qos: 1 })
    const q1 = await raw.next('publish')
    expect([q1.topic, q1.qos, q1.payload.toString(), q1.dup]).toEqual(['out/1', 1, 'one', false])
    expect(q1.messageId).toBeGreaterThan(0)
    raw.send({ cmd: 'puback', messageId: q1.messageId as number })

    await pub.client.publishAsync('out/2', 'two', { qos: 2 })
    const q2 = await raw.next('publish')
    expect([q2.topic, q2.qos, q2.payload.toString()]).toEqual(['out/2', 2, 'two'])
    raw.send({ cmd: 'pubrec', messageId: q2.messageId as number })
    expect((await raw.next('pubrel')).messageId).toBe(q2.messageId)
    raw.send({ cmd: 'pubcomp', messageId: q2.messageId as number })

    await pub.client.publishAsync('out/3', 'three', { qos: 0 })
    const q0 = await raw.next('publish')
    expect([q0.topic, q0.qos, q0.messageId]).toEqual(['out/3', 0, undefined])
  })

  it('delivers an inbound QoS 2 message exactly once when the publisher re-sends it before PUBREL [MQTT-4.3.3-2]', async () => {
    const b = await startBroker()
    const sub = await connectClient(b.url)
    await sub.client.subscribeAsync('once/t', { qos: 2 })
    const { raw } = await RawClient.connect(b.port)

    raw.send(publishPacket('once/t', 'once', 2, 7))
    expect((await raw.next('pubrec')).messageId).toBe(7)
    raw.send(publishPacket('once/t', 'once', 2, 7, true))
    expect((await raw.next('pubrec')).messageId).toBe(7)
    raw.send(publishPacket('once/t', 'once', 2, 7, true))
    expect((await raw.next('pubrec')).messageId).toBe(7)
    raw.send({ cmd: 'pubrel', messageId: 7 })
    expect((await raw.next('pubcomp')).messageId).toBe(7)

    // a later message from the same publisher marks the point by which any duplicate would have arrived
    raw.send(publishPacket('once/t', 'after', 2, 8))
    await raw.next('pubrec')
    raw.send({ cmd: 'pubrel', messageId: 8 })
    await raw.next('pubcomp')
    await sub.inbox.next((m) => m.payload.toString() === 'after')
    expect(sub.inbox.received.map((m) => m.payload.toString())).toEqual(['once', 'after'])
    await sub.inbox.take(1)

    // once PUBCOMP is sent the id is free again: the same id now carries a new message
    raw.send(publishPacket('once/t', 'new-with-id-7', 2, 7))
    await raw.next('pubrec')
    raw.send({ cmd: 'pubrel', messageId: 7 })
    await raw.next('pubcomp')
    expect((await sub.inbox.next()).payload.toString()).toBe('new-with-id-7')
  })

  it('re-sends an unacknowledged QoS 1 PUBLISH with DUP and the same packet id when a persistent session reconnects [MQTT-4.4.0-1]', async () => {
    const b = await startBroker()
    const clientId = uniqueId('dup1')
    const first = await RawClient.connect(b.port, { clientId, clean: false })
    first.raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'dup/q1', qos: 1 }] })
    await first.raw.next('suback')
    const pub = await connectClient(b.url)
    await pub.client.publishAsync('dup/q1', 'unacked', { qos: 1 })
    const original = await first.raw.next('publish')
    expect([original.qos, original.dup]).toEqual([1, false])
    first.raw.destroy()
    await first.raw.closed

    const second = await RawClient.connect(b.port, { clientId, clean: false })
    expect(second.connack.sessionPresent).toBe(true)
    const again = await second.raw.next('publish')
    expect([again.topic, again.payload.toString(), again.qos, again.dup, again.messageId]).toEqual([
      'dup/q1',
      'unacked',
      1,
      true,
      original.messageId,
    ])
    second.raw.send({ cmd: 'puback', messageId: again.messageId as number })
    await second.raw.packets.expectNone(300, (p) => p.cmd === 'publish')
  })

  it('re-sends an unacknowledged QoS 2 PUBLISH, then the PUBREL, across reconnects of a persistent session', async () => {
    const b = await startBroker()
    const clientId = uniqueId('dup2')
    const first = await RawClient.connect(b.port, { clientId, clean: false })
    first.raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'dup/q2', qos: 2 }] })
    await first.raw.next('suback')
    const pub = await connectClient(b.url)
    await pub.client.publishAsync('dup/q2', 'exactly-once', { qos: 2 })
    const original = await first.raw.next('publish')
    first.raw.destroy()
    await first.raw.closed

    const second = await RawClient.connect(b.port, { clientId, clean: false })
    const again = await second.raw.next('publish')
    expect([again.payload.toString(), again.qos, again.dup, again.messageId]).toEqual(['exactly-once', 2, true, original.messageId])
    second.raw.send({ cmd: 'pubrec', messageId: again.messageId as number })
    expect((await second.raw.next('pubrel')).messageId).toBe(original.messageId)
    second.raw.destroy()
    await second.raw.closed

    // PUBREC was received: the broker now owes a PUBREL, not the message [MQTT-4.3.3-1]
    const third = await RawClient.connect(b.port, { clientId, clean: false })
    expect((await third.raw.next('pubrel')).messageId).toBe(original.messageId)
    third.raw.send({ cmd: 'pubcomp', messageId: original.messageId as number })
    await third.raw.packets.expectNone(300, (p) => p.cmd === 'publish' || p.cmd === 'pubrel')
  })

  it.each([0, 1, 2] as const)('keeps the order of 1000 QoS %i messages from one publisher to one subscriber', async (qos) => {
    const b = await startBroker()
    const sub = await connectClient(b.url)
    await sub.client.subscribeAsync('order/t', { qos: 2 })
    const pub = await connectClient(b.url)
    const count = 1000
    await Promise.all(Array.from({ length: count }, (_, i) => pub.client.publishAsync('order/t', `${i}`, { qos })))
    const received = await sub.inbox.take(count, () => true, 15_000)
    expect(received.map((m) => Number(m.payload.toString()))).toEqual(Array.from({ length: count }, (_, i) => i))
  })

  it('sends at most maxInflight unacknowledged QoS 1 messages, and more as they are acknowledged', async () => {
    const b = await startBroker({ maxInflight: 5 })
    const { raw } = await RawClient.connect(b.port)
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'inflight/t', qos: 1 }] })
    await raw.next('suback')
    const pub = await connectClient(b.url)
    for (let i = 0; i < 12; i++) await pub.client.publishAsync('inflight/t', `${i}`, { qos: 1 })

    const window = await raw.packets.take(5, (p) => p.cmd === 'publish')
    await raw.packets.expectNone(400, (p) => p.cmd === 'publish', 'no more than 5 PUBLISH packets in flight')
    const payloads = (window as IPublishPacket[]).map((p) => p.payload.toString())
    expect(payloads).toEqual(['0', '1', '2', '3', '4'])

    raw.send({ cmd: 'puback', messageId: (window[0] as IPublishPacket).messageId as number })
    const sixth = await raw.next('publish')
    expect(sixth.payload.toString()).toBe('5')
    await raw.packets.expectNone(300, (p) => p.cmd === 'publish', 'only one more after one PUBACK')

    const outstanding = [...window.slice(1), sixth] as IPublishPacket[]
    const seen = [...payloads, '5']
    while (seen.length < 12) {
      for (const packet of outstanding.splice(0)) raw.send({ cmd: 'puback', messageId: packet.messageId as number })
      const more = await raw.next('publish')
      outstanding.push(more)
      seen.push(more.payload.toString())
      while (raw.packets.unread.some((p) => p.cmd === 'publish')) {
        const next = await raw.next('publish')
        outstanding.push(next)
        seen.push(next.payload.toString())
      }
      expect(outstanding.length).toBeLessThanOrEqual(5)
    }
    expect(seen).toEqual(Array.from({ length: 12 }, (_, i) => `${i}`))
  })
})
