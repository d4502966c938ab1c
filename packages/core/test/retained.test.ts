import { describe, expect, it } from 'vitest'
import { connectClient } from './helpers/clients.js'
import { startBroker } from './helpers/start-broker.js'

describe('retained messages', () => {
  it('stores a retained message and delivers it, with the retain flag, to a later subscriber [MQTT-3.3.1-6] [MQTT-3.3.1-8]', async () => {
    const b = await startBroker()
    const pub = await connectClient(b.url)
    await pub.client.publishAsync('r/1', 'v1', { qos: 1, retain: true })
    const sub = await connectClient(b.url)
    await sub.client.subscribeAsync('r/1', { qos: 1 })
    const message = await sub.inbox.next()
    expect([message.topic, message.payload.toString(), message.retain, message.qos]).toEqual(['r/1', 'v1', true, 1])
    await sub.inbox.expectNone(200)
  })

  it('forwards a retained publish to existing subscribers with retain=false [MQTT-3.3.1-9]', async () => {
    const b = await startBroker()
    const sub = await connectClient(b.url)
    await sub.client.subscribeAsync('r/live', { qos: 1 })
    const pub = await connectClient(b.url)
    await pub.client.publishAsync('r/live', 'now', { qos: 1, retain: true })
    const message = await sub.inbox.next()
    expect([message.payload.toString(), message.retain]).toEqual(['now', false])
  })

  it('replaces the retained message on a topic', async () => {
    const b = await startBroker()
    const pub = await connectClient(b.url)
    await pub.client.publishAsync('r/2', 'v1', { qos: 1, retain: true })
    await pub.client.publishAsync('r/2', 'v2', { qos: 1, retain: true })
    const sub = await connectClient(b.url)
    await sub.client.subscribeAsync('r/2', { qos: 1 })
    expect((await sub.inbox.next()).payload.toString()).toBe('v2')
    await sub.inbox.expectNone(300)
  })

  it('clears the retained message when a retained publish has an empty payload [MQTT-3.3.1-10]', async () => {
    const b = await startBroker()
    const pub = await connectClient(b.url)
    await pub.client.publishAsync('r/3', 'v1', { qos: 1, retain: true })
    await pub.client.publishAsync('r/3', '', { qos: 1, retain: true })
    const sub = await connectClient(b.url)
    await sub.client.subscribeAsync(['r/3', 'r/#'], { qos: 1 })
    await sub.inbox.expectNone(400)
  })

  it('does not retain a message published without the retain flag [MQTT-3.3.1-7]', async () => {
    const b = await startBroker()
    const pub = await connectClient(b.url)
    await pub.client.publishAsync('r/4', 'kept', { qos: 1, retain: true })
    await pub.client.publishAsync('r/4', 'not-retained', { qos: 1, retain: false })
    const sub = await connectClient(b.url)
    await sub.client.subscribeAsync('r/4', { qos: 1 })
    expect((await sub.inbox.next()).payload.toString()).toBe('kept')
    await sub.inbox.expectNone(300)
  })

  it('delivers every matching retained message to a wildcard subscription, and only those', async () => {
    const b = await startBroker()
    const pub = await connectClient(b.url)
    for (const topic of ['w/a', 'w/b', 'w/c/d', 'w', 'other/x', 'ww/a']) {
      await pub.client.publishAsync(topic, `v-${topic}`, { qos: 1, retain: true })
    }
    const hash = await connectClient(b.url)
    await hash.client.subscribeAsync('w/#', { qos: 1 })
    const all = await hash.inbox.take(4)
    expect(all.map((m) => m.topic).sort()).toEqual(['w', 'w/a', 'w/b', 'w/c/d'])
    expect(all.every((m) => m.retain)).toBe(true)
    await hash.inbox.expectNone(300)

    const plus = await connectClient(b.url)
    await plus.client.subscribeAsync('w/+', { qos: 1 })
    const level = await plus.inbox.take(2)
    expect(level.map((m) => m.payload.toString()).sort()).toEqual(['v-w/a', 'v-w/b'])
    await plus.inbox.expectNone(300)
  })

  it('delivers a retained message at min(its QoS, the granted QoS)', async () => {
    const b = await startBroker()
    const pub = await connectClient(b.url)
    await pub.client.publishAsync('rq/2', 'q2', { qos: 2, retain: true })
    await pub.client.publishAsync('rq/0', 'q0', { qos: 0, retain: true })
    const low = await connectClient(b.url)
    await low.client.subscribeAsync('rq/2', { qos: 1 })
    expect((await low.inbox.next()).qos).toBe(1)
    const high = await connectClient(b.url)
    await high.client.subscribeAsync('rq/0', { qos: 2 })
    expect((await high.inbox.next()).qos).toBe(0)
  })

  it('re-sends matching retained messages when a subscription is repeated [MQTT-3.8.4-3]', async () => {
    const b = await startBroker()
    const pub = await connectClient(b.url)
    await pub.client.publishAsync('r/again', 'v', { qos: 1, retain: true })
    const sub = await connectClient(b.url)
    await sub.client.subscribeAsync('r/again', { qos: 1 })
    await sub.inbox.next()
    await sub.client.subscribeAsync('r/again', { qos: 1 })
    const again = await sub.inbox.next()
    expect([again.payload.toString(), again.retain]).toEqual(['v', true])
  })
})
