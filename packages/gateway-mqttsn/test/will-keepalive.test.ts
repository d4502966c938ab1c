import { describe, expect, it } from 'vitest'
import { connectClient } from '../../core/test/helpers/clients.js'
import { recordEvents } from '../../core/test/helpers/events.js'
import { ReturnCode, type SnMessage } from '../src/index.js'
import { snClient, snClientId, startGateway } from './helpers.js'

describe('MQTT-SN gateway: will, keepalive and DISCONNECT', () => {
  it('runs the will handshake; a client silent past its duration is lost and its will is published', async () => {
    const gw = await startGateway({ keepaliveGrace: 1, retryInterval: 200 })
    const sub = await connectClient(gw.url)
    await sub.client.subscribeAsync('status/#', { qos: 1 })
    const sn = await snClient(gw, { duration: 1, will: { topic: 'status/s1', payload: 'gone', qos: 1, retain: false } })
    const types = sn.received.map((m) => m.type)
    expect(types).toEqual(['willtopicreq', 'willmsgreq', 'connack'])
    const will = await sub.inbox.next(() => true, 10_000)
    expect([will.topic, will.payload.toString(), will.qos]).toEqual(['status/s1', 'gone', 1])
    expect(gw.gateway.clients()).toEqual([])
  })

  it('an empty WILLTOPIC means no will', async () => {
    const gw = await startGateway({ keepaliveGrace: 1, retryInterval: 200 })
    const events = recordEvents(gw.broker)
    const sn = await snClient(gw, {}, false)
    const clientId = snClientId()
    sn.send({ type: 'connect', will: true, cleanSession: true, duration: 1, clientId })
    await sn.waitFor('willtopicreq')
    sn.send({ type: 'willtopic', will: undefined })
    expect(await sn.waitFor('connack')).toEqual({ type: 'connack', returnCode: ReturnCode.Accepted })
    // Lost without a will: the broker sees the session end and nothing published.
    await events.disconnected.next((e) => e.client.id === clientId, 10_000)
    expect(events.published.received.filter((e) => e.client?.id === clientId)).toEqual([])
  })

  it('WILLTOPICUPD and WILLMSGUPD change the will that a lost client leaves', async () => {
    const gw = await startGateway({ keepaliveGrace: 1, retryInterval: 200 })
    const sub = await connectClient(gw.url)
    await sub.client.subscribeAsync('w/#')
    const sn = await snClient(gw, { duration: 1, will: { topic: 'w/old', payload: 'old', qos: 0, retain: false } })
    expect(await sn.updateWillTopic({ topic: 'w/new', qos: 0, retain: true })).toBe(ReturnCode.Accepted)
    expect(await sn.updateWillMessage('new')).toBe(ReturnCode.Accepted)
    const will = await sub.inbox.next(() => true, 10_000)
    expect([will.topic, will.payload.toString()]).toEqual(['w/new', 'new'])
    // Retained, as the updated will asked.
    const late = await connectClient(gw.url)
    await late.client.subscribeAsync('w/new')
    expect((await late.inbox.next()).retain).toBe(true)
  })

  it('an empty WILLTOPICUPD removes the will', async () => {
    const gw = await startGateway({ keepaliveGrace: 1, retryInterval: 200 })
    const events = recordEvents(gw.broker)
    const sn = await snClient(gw, { duration: 1, will: { topic: 'w/x', payload: 'x', qos: 0, retain: false } })
    expect(await sn.updateWillTopic(undefined)).toBe(ReturnCode.Accepted)
    await events.disconnected.next((e) => e.client.id === sn.options.clientId, 10_000)
    expect(events.published.received.filter((e) => e.message.topic === 'w/x')).toEqual([])
  })

  it('DISCONNECT ends the session without the will; PINGREQ keeps an active client alive', async () => {
    const gw = await startGateway({ keepaliveGrace: 1, retryInterval: 200 })
    const events = recordEvents(gw.broker)
    const sn = await snClient(gw, { duration: 60, will: { topic: 'w/d', payload: 'x', qos: 0, retain: false } })
    await sn.ping()
    expect(gw.gateway.clients().map((c) => c.state)).toEqual(['active'])
    await sn.disconnect()
    await events.disconnected.next((e) => e.client.id === sn.options.clientId)
    expect(gw.gateway.clients()).toEqual([])
    expect(events.published.received.filter((e) => e.message.topic === 'w/d')).toEqual([])
    // Not connected any more: a PUBLISH is not acted on.
    sn.send({ type: 'publish', dup: false, qos: 1, retain: false, topicIdType: 0, topicId: 1, msgId: 1, payload: Buffer.from('x') })
    await expect.poll(() => gw.gateway.stats.datagramsDropped).toBe(1)
  })

  it('with an async authorizePublish hook, a QoS 0 PUBLISH right before DISCONNECT, and a lost client\'s will, still arrive', async () => {
    const gw = await startGateway({ keepaliveGrace: 1, retryInterval: 200 }, { hooks: { authorizePublish: () => new Promise<boolean>((resolve) => setImmediate(() => resolve(true))) } })
    const sub = await connectClient(gw.url)
    await sub.client.subscribeAsync('async/#')
    const quick = await snClient(gw)
    await quick.publish('async/last', 'before disconnect', { qos: 0 })
    await quick.disconnect()
    expect((await sub.inbox.next()).payload.toString()).toBe('before disconnect')
    await snClient(gw, { duration: 1, will: { topic: 'async/will', payload: 'lost', qos: 0, retain: false } })
    expect((await sub.inbox.next(() => true, 10_000)).payload.toString()).toBe('lost')
  })

  it('a client that never answers a QoS 1 PUBLISH is retried with DUP, then lost after maxRetries', async () => {
    const gw = await startGateway({ retryInterval: 100, maxRetries: 2 })
    const sub = await connectClient(gw.url)
    await sub.client.subscribeAsync('lost/#')
    const sn = await snClient(gw, { autoAck: false, duration: 60, will: { topic: 'lost/me', payload: 'bye', qos: 0, retain: false } })
    const suback = await sn.subscribe('to/me', 1)
    const pub = await connectClient(gw.url)
    await pub.client.publishAsync('to/me', 'hello', { qos: 1 })
    const will = await sub.inbox.next(() => true, 10_000)
    expect(will.payload.toString()).toBe('bye')
    const publishes = sn.received.filter((m) => m.type === 'publish')
    expect(publishes.map((m) => m.type === 'publish' && [m.topicId, m.dup])).toEqual([
      [suback.topicId, false],
      [suback.topicId, true],
      [suback.topicId, true],
    ])
  })

  it('an unanswered REGISTER is sent again; once acknowledged, the PUBLISH follows', async () => {
    const gw = await startGateway({ retryInterval: 100, maxRetries: 5 })
    const sn = await snClient(gw, { autoAck: false })
    await sn.subscribe('reg/+', 0)
    const pub = await connectClient(gw.url)
    await pub.client.publishAsync('reg/x', 'after regack')
    const first = (await sn.waitFor('register')) as Extract<SnMessage, { type: 'register' }>
    const again = (await sn.waitFor('register')) as Extract<SnMessage, { type: 'register' }>
    expect([again.topicId, again.msgId, again.topicName]).toEqual([first.topicId, first.msgId, 'reg/x'])
    sn.send({ type: 'regack', topicId: again.topicId, msgId: again.msgId, returnCode: ReturnCode.Accepted })
    const message = await sn.nextMessage()
    expect([message.topic, message.payload.toString()]).toEqual(['reg/x', 'after regack'])
  })

  it('a CONNECT with the id of a connected client replaces it (the old session ends without its will)', async () => {
    const gw = await startGateway()
    const events = recordEvents(gw.broker)
    const first = await snClient(gw, { clientId: 'same', will: { topic: 'w/same', payload: 'x', qos: 0, retain: false } })
    const second = await snClient(gw, { clientId: 'same' })
    await second.ping()
    expect(gw.gateway.clients().map((c) => [c.clientId, c.port])).toEqual([['same', second.localPort]])
    expect(first.localPort).not.toBe(second.localPort)
    expect(events.published.received.filter((e) => e.message.topic === 'w/same')).toEqual([])
  })
})
