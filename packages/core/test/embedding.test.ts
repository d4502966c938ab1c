import { MqttClient } from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createBroker, duplexPair, type Message } from '../src/index.js'
import { attach, closesWithin, connectClient, RawClient, uniqueId } from './helpers/clients.js'
import { recordEvents } from './helpers/events.js'
import { Inbox } from './helpers/inbox.js'
import { listen, startBroker } from './helpers/start-broker.js'

describe('embedding API', () => {
  it('broker.publish reaches MQTT clients', async () => {
    const b = await startBroker()
    const sub = await connectClient(b.url)
    await sub.client.subscribeAsync('host/#', { qos: 2 })
    await b.broker.publish({ topic: 'host/string', payload: 'from the host', qos: 1 })
    await b.broker.publish({ topic: 'host/buffer', payload: Buffer.from([1, 2, 3]) })
    await b.broker.publish({ topic: 'host/bytes', payload: new Uint8Array([4, 5]), qos: 2 })
    const [text, buffer, bytes] = await sub.inbox.take(3)
    expect([text?.topic, text?.payload.toString(), text?.qos, text?.retain]).toEqual(['host/string', 'from the host', 1, false])
    expect([buffer?.topic, [...(buffer?.payload ?? [])], buffer?.qos]).toEqual(['host/buffer', [1, 2, 3], 0])
    expect([bytes?.topic, [...(bytes?.payload ?? [])], bytes?.qos]).toEqual(['host/bytes', [4, 5], 2])
  })

  it('broker.publish with retain stores a retained message', async () => {
    const b = await startBroker()
    await b.broker.publish({ topic: 'host/retained', payload: 'kept', qos: 1, retain: true })
    const sub = await connectClient(b.url)
    await sub.client.subscribeAsync('host/retained', { qos: 1 })
    const message = await sub.inbox.next()
    expect([message.payload.toString(), message.retain]).toEqual(['kept', true])
  })

  it('broker.subscribe receives what clients publish, until unsubscribed', async () => {
    const b = await startBroker()
    const seen = new Inbox<Message>((m) => m.topic)
    const unsubscribe = b.broker.subscribe('app/+/temp', (message) => seen.push(message))
    const pub = await connectClient(b.url)
    await pub.client.publishAsync('app/kitchen/temp', '21.5', { qos: 1 })
    await pub.client.publishAsync('app/kitchen/humidity', '40', { qos: 1 })
    const message = await seen.next()
    expect([message.topic, message.payload.toString(), message.qos]).toEqual(['app/kitchen/temp', '21.5', 1])
    expect(Buffer.isBuffer(message.payload)).toBe(true)
    await seen.expectNone(200)

    unsubscribe()
    await pub.client.publishAsync('app/kitchen/temp', '22', { qos: 1 })
    await seen.expectNone(300)
  })

  it('fires published once every subscriber connected here has the message, persistent QoS 1 sessions too', async () => {
    const b = await startBroker()
    const clientId = uniqueId('persistent-sub')
    const sub = await connectClient(b.url, { clientId, clean: false })
    await sub.client.subscribeAsync('ev/held', { qos: 1 })
    // Read in the listener itself: the subscriber's PUBACK cannot have come back yet, so its message is in flight.
    const inflightAtEvent = new Promise<number | undefined>((resolve) => {
      b.broker.on('published', (message) => {
        if (message.topic === 'ev/held') resolve(b.broker.admin.client(clientId)?.inflight)
      })
    })
    await b.broker.publish({ topic: 'ev/held', payload: 'x', qos: 1 })
    expect(await inflightAtEvent).toBe(1)
    expect((await sub.inbox.next()).payload.toString()).toBe('x')
  })

  it('fires clientConnected, subscribed, unsubscribed, published and clientDisconnected', async () => {
    const b = await startBroker()
    const events = recordEvents(b.broker)
    const clientId = uniqueId('events')
    const client = await connectClient(b.url, { clientId, username: 'alice', password: 'pw' })

    const connected = await events.connected.next()
    expect(connected).toMatchObject({ id: clientId, protocolVersion: 4, username: 'alice' })
    expect(connected.meta.transport).toBe('tcp')
    expect(connected.meta.remoteAddress).toMatch(/127\.0\.0\.1/)

    await client.client.subscribeAsync({ 'ev/a': { qos: 1 }, 'ev/b': { qos: 2 } })
    const subscribed = await events.subscribed.next()
    expect(subscribed.client.id).toBe(clientId)
    expect(subscribed.subscriptions.map((s) => [s.filter, s.qos]).sort()).toEqual([
      ['ev/a', 1],
      ['ev/b', 2],
    ])

    await client.client.publishAsync('ev/a', 'payload', { qos: 1 })
    const published = await events.published.next((e) => e.message.topic === 'ev/a')
    expect(published.client?.id).toBe(clientId)
    expect([published.message.payload.toString(), published.message.qos, published.message.retain]).toEqual(['payload', 1, false])

    await b.broker.publish({ topic: 'ev/host', payload: 'x' })
    expect((await events.published.next((e) => e.message.topic === 'ev/host')).client).toBeNull()

    await client.client.unsubscribeAsync('ev/a')
    const unsubscribed = await events.unsubscribed.next()
    expect([unsubscribed.client.id, unsubscribed.filters]).toEqual([clientId, ['ev/a']])

    await client.client.endAsync()
    const disconnected = await events.disconnected.next()
    expect([disconnected.client.id, disconnected.reason]).toEqual([clientId, 'disconnect'])
  })

  it('reports why a client went away', async () => {
    const b = await startBroker()
    const events = recordEvents(b.broker)
    const { raw } = await RawClient.connect(b.port, { clientId: 'dropped' })
    raw.destroy()
    expect((await events.disconnected.next()).reason).toBe('socket-closed')
    const violator = await RawClient.connect(b.port, { clientId: 'violator' })
    violator.raw.write([0x00, 0x00])
    const gone = await events.disconnected.next()
    expect([gone.client.id, gone.reason]).toEqual(['violator', 'protocol-error'])
    expect((await events.clientErrors.next()).client?.id).toBe('violator')
  })

  it('counts connected clients', async () => {
    const b = await startBroker()
    const events = recordEvents(b.broker)
    expect(b.broker.connectedClients).toBe(0)
    const one = await connectClient(b.url)
    await connectClient(b.url)
    await events.connected.take(2)
    expect(b.broker.connectedClients).toBe(2)
    await one.client.endAsync()
    await events.disconnected.next()
    expect(b.broker.connectedClients).toBe(1)
  })

  it('serves a client over an in-memory duplex pair, alongside TCP clients', async () => {
    const b = await startBroker()
    const events = recordEvents(b.broker)
    const [brokerSide, clientSide] = duplexPair()
    b.broker.handle(brokerSide, { transport: 'memory' })
    const memory = await attach(new MqttClient(() => clientSide, { protocolVersion: 4, clientId: uniqueId('memory'), reconnectPeriod: 0 }))
    expect(memory.connack.returnCode).toBe(0)
    expect((await events.connected.next()).meta.transport).toBe('memory')

    const tcp = await connectClient(b.url)
    await tcp.client.subscribeAsync('mem/to-tcp', { qos: 1 })
    await memory.client.subscribeAsync('mem/to-memory', { qos: 2 })
    await memory.client.publishAsync('mem/to-tcp', 'over memory', { qos: 1 })
    await tcp.client.publishAsync('mem/to-memory', 'over tcp', { qos: 2 })
    expect((await tcp.inbox.next()).payload.toString()).toBe('over memory')
    const received = await memory.inbox.next()
    expect([received.payload.toString(), received.qos]).toEqual(['over tcp', 2])
  })

  it('speaks raw MQTT over an in-memory duplex pair', async () => {
    const b = await startBroker()
    const [brokerSide, clientSide] = duplexPair()
    b.broker.handle(brokerSide)
    const raw = new RawClient(clientSide)
    expect((await raw.handshake()).returnCode).toBe(0)
    raw.send({ cmd: 'pingreq' })
    await raw.next('pingresp')
    raw.write([0x00, 0x00])
    expect(await raw.closesWithin(2000)).toBe(true)
  })

  it('broker.close() ends every client and resolves', async () => {
    const broker = createBroker()
    await broker.ready()
    const { server, port, sockets } = await listen(broker)
    onTestFinished(async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    })
    const url = `mqtt://127.0.0.1:${port}`
    const first = await connectClient(url)
    const second = await connectClient(url, { clean: false, clientId: uniqueId('persistent') })
    const [brokerSide, clientSide] = duplexPair()
    broker.handle(brokerSide, { transport: 'memory' })
    const memory = await attach(new MqttClient(() => clientSide, { protocolVersion: 4, clientId: uniqueId('memory'), reconnectPeriod: 0 }))

    await broker.close()
    expect(await closesWithin(first.closed, 2000)).toBe(true)
    expect(await closesWithin(second.closed, 2000)).toBe(true)
    expect(await closesWithin(memory.closed, 2000)).toBe(true)
  })
})
