import { describe, expect, it } from 'vitest'
import { connectClient } from '../helpers/clients.js'
import { connectV5, rawConnectV5, subscriptionIds } from '../helpers/v5.js'
import { startBroker } from '../helpers/start-broker.js'

describe('MQTT 3.1.1 and 5.0 clients on one broker', () => {
  it('delivers a v5 publish with properties to a 3.1.1 subscriber as a plain message', async () => {
    const b = await startBroker()
    const v3 = await connectClient(b.url)
    const packets: Array<{ properties?: unknown }> = []
    v3.client.on('message', (_t, _p, packet) => packets.push(packet))
    await v3.client.subscribeAsync('mix/#', { qos: 1 })
    const v5 = await connectV5(b.url)
    await v5.client.publishAsync('mix/props', 'with-props', {
      qos: 1,
      properties: { contentType: 'text/plain', userProperties: { k: 'v' }, messageExpiryInterval: 60, responseTopic: 'mix/reply', correlationData: Buffer.from('c'), payloadFormatIndicator: true },
    })
    const message = await v3.inbox.next()
    expect([message.topic, message.payload.toString(), message.qos]).toEqual(['mix/props', 'with-props', 1])
    expect(packets[0]?.properties).toBeUndefined()
  })

  it('delivers a v5 publish that used a Topic Alias to a 3.1.1 subscriber under its real topic', async () => {
    const b = await startBroker()
    const v3 = await connectClient(b.url)
    await v3.client.subscribeAsync('mix/alias', { qos: 0 })
    const { raw } = await rawConnectV5(b.port)
    raw.send({ cmd: 'publish', topic: 'mix/alias', payload: Buffer.from('one'), qos: 0, retain: false, dup: false, properties: { topicAlias: 3 } })
    raw.send({ cmd: 'publish', topic: '', payload: Buffer.from('two'), qos: 0, retain: false, dup: false, properties: { topicAlias: 3 } })
    const got = await v3.inbox.take(2)
    expect(got.map((m) => `${m.topic}=${m.payload.toString()}`)).toEqual(['mix/alias=one', 'mix/alias=two'])
  })

  it('delivers a 3.1.1 publish to a v5 subscriber, with its Subscription Identifier and QoS', async () => {
    const b = await startBroker()
    const v5 = await connectV5(b.url)
    await v5.client.subscribeAsync('mix/from-v3', { qos: 2, properties: { subscriptionIdentifier: 5 } })
    const v3 = await connectClient(b.url)
    await v3.client.publishAsync('mix/from-v3', 'hello-v5', { qos: 2 })
    const message = await v5.messages.next()
    expect([message.topic, message.payload.toString(), message.qos]).toEqual(['mix/from-v3', 'hello-v5', 2])
    expect(subscriptionIds(message.properties)).toEqual([5])
  })

  it('keeps a v5 retained message with properties for a later 3.1.1 subscriber, and v3 retained for a v5 one', async () => {
    const b = await startBroker()
    const v5pub = await connectV5(b.url)
    await v5pub.client.publishAsync('mix/ret5', 'r5', { qos: 1, retain: true, properties: { contentType: 'text/plain' } })
    const v3pub = await connectClient(b.url)
    await v3pub.client.publishAsync('mix/ret3', 'r3', { qos: 1, retain: true })
    const v3 = await connectClient(b.url)
    await v3.client.subscribeAsync('mix/ret5', { qos: 1 })
    expect((await v3.inbox.next()).payload.toString()).toBe('r5')
    const v5 = await connectV5(b.url)
    await v5.client.subscribeAsync('mix/ret3', { qos: 1 })
    const retained = await v5.messages.next()
    expect([retained.payload.toString(), retained.retain]).toEqual(['r3', true])
  })
})
