import { describe, expect, it } from 'vitest'
import { connectClient, RawClient } from './helpers/clients.js'
import { startBroker } from './helpers/start-broker.js'

describe('SUBSCRIBE and UNSUBSCRIBE', () => {
  it('grants the requested QoS by default and answers with the SUBSCRIBE packet id [MQTT-3.8.4-1]', async () => {
    const b = await startBroker()
    const { raw } = await RawClient.connect(b.port)
    raw.send({ cmd: 'subscribe', messageId: 42, subscriptions: [{ topic: 'g/0', qos: 0 }, { topic: 'g/1', qos: 1 }, { topic: 'g/2', qos: 2 }] })
    const suback = await raw.next('suback')
    expect(suback.messageId).toBe(42)
    expect(suback.granted).toEqual([0, 1, 2])
  })

  it('grants min(requested, maxQos)', async () => {
    const b = await startBroker({ maxQos: 1 })
    const sub = await connectClient(b.url)
    const granted = await sub.client.subscribeAsync({ 'm/0': { qos: 0 }, 'm/1': { qos: 1 }, 'm/2': { qos: 2 } })
    expect(Object.fromEntries(granted.map((g) => [g.topic, g.qos]))).toEqual({ 'm/0': 0, 'm/1': 1, 'm/2': 1 })
  })

  it('answers 0x80 for invalid filters and grants the valid ones in the same SUBSCRIBE', async () => {
    const b = await startBroker()
    const { raw } = await RawClient.connect(b.port)
    raw.send({
      cmd: 'subscribe',
      messageId: 3,
      subscriptions: [
        { topic: 'ok/1', qos: 1 },
        { topic: 'a/#/b', qos: 1 },
        { topic: 'x+', qos: 0 },
        { topic: '#a', qos: 2 },
        { topic: 'ok/2', qos: 2 },
      ],
    })
    const suback = await raw.next('suback')
    expect(suback.granted).toEqual([1, 0x80, 0x80, 0x80, 2])
    expect(raw.isClosed).toBe(false)
    const pub = await connectClient(b.url)
    await pub.client.publishAsync('ok/1', 'one', { qos: 1 })
    await pub.client.publishAsync('ok/2', 'two', { qos: 1 })
    expect((await raw.next('publish')).payload.toString()).toBe('one')
    expect((await raw.next('publish')).payload.toString()).toBe('two')
  })

  it.each([
    [2, 1, 1],
    [1, 2, 1],
    [2, 0, 0],
    [0, 2, 0],
    [1, 1, 1],
    [2, 2, 2],
  ] as const)('delivers a QoS %i publish to a QoS %i subscription at QoS %i [MQTT-3.8.4-6]', async (publishQos, grantedQos, deliveredQos) => {
    const b = await startBroker()
    const sub = await connectClient(b.url)
    await sub.client.subscribeAsync('d/t', { qos: grantedQos })
    const pub = await connectClient(b.url)
    await pub.client.publishAsync('d/t', 'x', { qos: publishQos })
    expect((await sub.inbox.next()).qos).toBe(deliveredQos)
  })

  it('delivers one copy, at the highest granted QoS, to a client with overlapping subscriptions', async () => {
    const b = await startBroker()
    const sub = await connectClient(b.url)
    await sub.client.subscribeAsync('ov/#', { qos: 0 })
    await sub.client.subscribeAsync('ov/+', { qos: 2 })
    await sub.client.subscribeAsync('+/x', { qos: 1 })
    await sub.client.subscribeAsync('ov/x', { qos: 0 })
    const pub = await connectClient(b.url)
    await pub.client.publishAsync('ov/x', 'first', { qos: 2 })
    await pub.client.publishAsync('ov/x', 'end', { qos: 2 })
    // a copy too many of 'end' would be sent before anything published after it
    await sub.client.subscribeAsync('marker', { qos: 0 })
    await pub.client.publishAsync('marker', 'marker', { qos: 0 })
    await sub.inbox.next((m) => m.topic === 'marker')
    expect(sub.inbox.received.map((m) => [m.payload.toString(), m.qos])).toEqual([
      ['first', 2],
      ['end', 2],
      ['marker', 0],
    ])
  })

  it('does not deliver $SYS topics to # or +/... subscriptions [MQTT-4.7.2-1]', async () => {
    const b = await startBroker({ sysInterval: 1 })
    const everything = await connectClient(b.url)
    await everything.client.subscribeAsync({ '#': { qos: 0 }, '+/broker/#': { qos: 0 }, '+/+/+': { qos: 0 } })
    const sys = await connectClient(b.url)
    await sys.client.subscribeAsync('$SYS/#', { qos: 0 })
    // a live update (not a retained copy sent on subscribe) proves $SYS was routed after both subscribed
    await sys.inbox.next((m) => m.topic.startsWith('$SYS/broker/') && !m.retain, 3000, 'a live $SYS update')
    const pub = await connectClient(b.url)
    await pub.client.publishAsync('normal/topic', 'x', { qos: 1 })
    await everything.inbox.next((m) => m.topic === 'normal/topic')
    await everything.inbox.expectNone(300, (m) => m.topic.startsWith('$'), 'no $ topics')
  })

  it('stops delivering after UNSUBSCRIBE and answers UNSUBACK with its packet id [MQTT-3.10.4-4]', async () => {
    const b = await startBroker()
    const { raw } = await RawClient.connect(b.port)
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'u/a', qos: 1 }, { topic: 'u/b', qos: 1 }, { topic: 'u/+', qos: 0 }] })
    await raw.next('suback')
    raw.send({ cmd: 'unsubscribe', messageId: 77, unsubscriptions: ['u/a', 'u/+'] })
    expect((await raw.next('unsuback')).messageId).toBe(77)
    const pub = await connectClient(b.url)
    await pub.client.publishAsync('u/a', 'gone', { qos: 1 })
    await pub.client.publishAsync('u/b', 'kept', { qos: 1 })
    const delivered = await raw.next('publish')
    expect([delivered.topic, delivered.payload.toString()]).toEqual(['u/b', 'kept'])
    await raw.packets.expectNone(300, (p) => p.cmd === 'publish')
  })

  it('answers UNSUBACK for a filter that was never subscribed [MQTT-3.10.4-5]', async () => {
    const b = await startBroker()
    const { raw } = await RawClient.connect(b.port)
    raw.send({ cmd: 'unsubscribe', messageId: 9, unsubscriptions: ['never/subscribed'] })
    expect((await raw.next('unsuback')).messageId).toBe(9)
  })

  it('replaces an existing subscription with the same filter, with the new QoS [MQTT-3.8.4-3]', async () => {
    const b = await startBroker()
    const sub = await connectClient(b.url)
    await sub.client.subscribeAsync('re/t', { qos: 2 })
    await sub.client.subscribeAsync('re/t', { qos: 0 })
    const pub = await connectClient(b.url)
    await pub.client.publishAsync('re/t', 'x', { qos: 2 })
    await pub.client.publishAsync('re/t', 'end', { qos: 2 })
    await sub.inbox.next((m) => m.payload.toString() === 'end')
    expect(sub.inbox.received.map((m) => [m.payload.toString(), m.qos])).toEqual([
      ['x', 0],
      ['end', 0],
    ])
  })
})
