import { describe, expect, it } from 'vitest'
import { connectClient } from '../../core/test/helpers/clients.js'
import { ReturnCode, TopicIdType, shortTopicId, type SnMessage } from '../src/index.js'
import { snClient, startGateway } from './helpers.js'

describe('MQTT-SN gateway: SUBSCRIBE and delivery to MQTT-SN clients', () => {
  it('a subscription by full name gets its topic id in SUBACK and PUBLISHes use it without REGISTER', async () => {
    const gw = await startGateway()
    const sn = await snClient(gw)
    const suback = await sn.subscribe('cmd/valve', 1)
    expect(suback.returnCode).toBe(ReturnCode.Accepted)
    expect(suback.qos).toBe(1)
    expect(suback.topicId).toBeGreaterThan(0)
    const pub = await connectClient(gw.url)
    await pub.client.publishAsync('cmd/valve', 'open', { qos: 1 })
    const message = await sn.nextMessage()
    expect(message).toMatchObject({ topicIdType: TopicIdType.Normal, topicId: suback.topicId, qos: 1, topic: 'cmd/valve' })
    expect(message.payload.toString()).toBe('open')
    expect(sn.received.some((m) => m.type === 'register')).toBe(false)
  })

  it('a wildcard subscriber is sent REGISTER for each new concrete topic before its first PUBLISH, QoS 0/1/2', async () => {
    const gw = await startGateway()
    const sn = await snClient(gw)
    expect((await sn.subscribe('room/+/temp', 2)).topicId).toBe(0)
    const pub = await connectClient(gw.url)
    await pub.client.publishAsync('room/1/temp', 'a', { qos: 0 })
    await pub.client.publishAsync('room/2/temp', 'b', { qos: 1 })
    await pub.client.publishAsync('room/1/temp', 'c', { qos: 2 })
    const got = [await sn.nextMessage(), await sn.nextMessage(), await sn.nextMessage()]
    expect(got.map((m) => [m.topic, m.payload.toString(), m.qos])).toEqual([
      ['room/1/temp', 'a', 0],
      ['room/2/temp', 'b', 1],
      ['room/1/temp', 'c', 2],
    ])
    const order = sn.received.filter((m) => m.type === 'register' || m.type === 'publish').map((m) => m.type)
    expect(order).toEqual(['register', 'publish', 'register', 'publish', 'publish'])
    // QoS 2 completes: the client's PUBREC is followed by the gateway's PUBREL, answered with PUBCOMP.
    await expect.poll(() => sn.received.some((m) => m.type === 'pubrel')).toBe(true)
  })

  it('subscribes by short name and predefined id; PUBLISHes to those topics carry no REGISTER', async () => {
    const gw = await startGateway({ predefined: { 42: 'alarms/fire' } })
    const sn = await snClient(gw, { predefined: { 42: 'alarms/fire' } })
    expect(await sn.subscribe('ab', 0)).toMatchObject({ returnCode: ReturnCode.Accepted, topicId: 0 })
    expect(await sn.subscribe({ predefined: 42 }, 1)).toMatchObject({ returnCode: ReturnCode.Accepted, topicId: 42, qos: 1 })
    expect((await sn.subscribe({ predefined: 43 }, 1)).returnCode).toBe(ReturnCode.InvalidTopicId)
    const pub = await connectClient(gw.url)
    await pub.client.publishAsync('ab', 'short')
    await pub.client.publishAsync('alarms/fire', 'predef', { qos: 1 })
    const short = await sn.nextMessage()
    expect(short).toMatchObject({ topicIdType: TopicIdType.Short, topicId: shortTopicId('ab'), topic: 'ab' })
    const predefined = await sn.nextMessage()
    expect(predefined).toMatchObject({ topicIdType: TopicIdType.Predefined, topicId: 42, qos: 1 })
    expect(predefined.payload.toString()).toBe('predef')
    expect(sn.received.some((m) => m.type === 'register')).toBe(false)
  })

  it('publishes to short names and predefined ids reach TCP subscribers', async () => {
    const gw = await startGateway({ predefined: { 7: 'meters/m1' } })
    const sub = await connectClient(gw.url)
    await sub.client.subscribeAsync(['xy', 'meters/m1'])
    const sn = await snClient(gw, { predefined: { 7: 'meters/m1' } })
    expect(await sn.publish('xy', 'short', { qos: 1 })).toBe(ReturnCode.Accepted)
    expect(await sn.publish('meters/m1', 'predefined', { qos: 1 })).toBe(ReturnCode.Accepted)
    const got = await sub.inbox.take(2)
    expect(got.map((m) => [m.topic, m.payload.toString()])).toEqual([
      ['xy', 'short'],
      ['meters/m1', 'predefined'],
    ])
  })

  it('UNSUBSCRIBE by name, short name and predefined id stops delivery', async () => {
    const gw = await startGateway({ predefined: { 9: 'p/nine' } })
    const sn = await snClient(gw)
    await sn.subscribe('n/#')
    await sn.subscribe('sh')
    await sn.subscribe({ predefined: 9 })
    await sn.unsubscribe('n/#')
    await sn.unsubscribe('sh')
    await sn.unsubscribe({ predefined: 9 })
    const pub = await connectClient(gw.url)
    await pub.client.publishAsync('n/1', 'x')
    await pub.client.publishAsync('sh', 'x')
    await pub.client.publishAsync('p/nine', 'x')
    // A marker subscription proves everything before it was routed (and not delivered).
    await sn.subscribe('marker')
    await pub.client.publishAsync('marker', 'end')
    const next = await sn.nextMessage()
    expect(next.topic).toBe('marker')
  })

  it('a REGISTER from the client gets an id; the same name gets the same id; wildcards are refused', async () => {
    const gw = await startGateway()
    const sn = await snClient(gw)
    const id = await sn.register('a/b')
    expect(id).toBeGreaterThan(0)
    expect(id).not.toBe(0xffff)
    expect(await sn.register('a/b')).toBe(id)
    await expect(sn.register('a/+')).rejects.toThrow(/return code 3/)
  })

  it('a REGISTER the client refuses drops that message; the next is still delivered', async () => {
    const gw = await startGateway()
    const sn = await snClient(gw, { autoAck: false })
    await sn.subscribe('t/#', 0)
    const pub = await connectClient(gw.url)
    await pub.client.publishAsync('t/1', 'refused')
    const register = (await sn.waitFor('register')) as Extract<SnMessage, { type: 'register' }>
    await pub.client.publishAsync('t/2', 'taken')
    sn.send({ type: 'regack', topicId: register.topicId, msgId: register.msgId, returnCode: ReturnCode.NotSupported })
    const second = (await sn.waitFor('register')) as Extract<SnMessage, { type: 'register' }>
    expect(second.topicName).toBe('t/2')
    sn.send({ type: 'regack', topicId: second.topicId, msgId: second.msgId, returnCode: ReturnCode.Accepted })
    const message = await sn.nextMessage()
    expect(message.payload.toString()).toBe('taken')
    expect(gw.gateway.stats.messagesDropped).toBe(1)
  })
})
