import type net from 'node:net'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createBroker, createMemoryPersistence, type ForwardVerdict, type MemoryPersistence, type Message, type Persistence } from '../src/index.js'
import { connectClient, RawClient, sleep, uniqueId } from './helpers/clients.js'
import { recordEvents } from './helpers/events.js'
import { capturingLogger } from './helpers/logger.js'
import { listen, startBroker } from './helpers/start-broker.js'

// Each test pins down a fix from the documentation review: it fails on the code before that fix.

/** The memory store, with a `subscriptionsAll` (read while the broker loads its state) that takes `ms`. */
function slowToLoad(store: MemoryPersistence, ms: number): Persistence {
  return new Proxy(store, {
    get(target, key) {
      if (key === 'subscriptionsAll') {
        return async () => {
          await sleep(ms)
          return target.subscriptionsAll()
        }
      }
      const value: unknown = Reflect.get(target, key, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

describe('regressions (MQTT 3.1.1)', () => {
  it('drops an in-flight message that authorizeForward now denies from the window on resume, so later messages still flow', async () => {
    const denied = new Set<string>()
    const b = await startBroker({ maxInflight: 1, hooks: { authorizeForward: (_client, message) => !denied.has(message.payload.toString()) } })
    const clientId = uniqueId('resume-denied')
    const first = await RawClient.connect(b.port, { clientId, clean: false })
    first.raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'resume/denied', qos: 1 }] })
    await first.raw.next('suback')
    await b.broker.publish({ topic: 'resume/denied', payload: 'revoked', qos: 1 })
    expect((await first.raw.next('publish')).payload.toString()).toBe('revoked')
    first.raw.destroy() // without PUBACK: 'revoked' stays in flight, the only slot
    await first.raw.closed

    denied.add('revoked')
    await b.broker.publish({ topic: 'resume/denied', payload: 'later', qos: 1 })
    const second = await RawClient.connect(b.port, { clientId, clean: false })
    expect(second.connack.sessionPresent).toBe(true)
    const publish = await second.raw.next('publish')
    expect(publish.payload.toString()).toBe('later')
    second.raw.send({ cmd: 'puback', messageId: publish.messageId as number })
    await second.raw.packets.expectNone(300, (p) => p.cmd === 'publish')
  })

  it('refuses a connection whose will authorizePublish denies, with CONNACK 5', async () => {
    const b = await startBroker({ hooks: { authorizePublish: (_client, message) => message.topic !== 'will/forbidden' } })
    const raw = await RawClient.open(b.port)
    const connack = await raw.handshake({ will: { topic: 'will/forbidden', payload: Buffer.from('x'), qos: 1, retain: false } })
    expect(connack.returnCode).toBe(5)
    expect(await raw.closesWithin(2000)).toBe(true)
    // the same client without that will is welcome
    await RawClient.connect(b.port, { will: { topic: 'will/allowed', payload: Buffer.from('x'), qos: 1, retain: false } })
  })

  it('publishes the will as authorizePublish rewrote it at CONNECT', async () => {
    const b = await startBroker({
      hooks: {
        authorizePublish: (_client, message) => (message.topic === 'will/original' ? { ok: true, message: { ...message, topic: 'will/rewritten' } } : true),
      },
    })
    const watcher = await connectClient(b.url)
    await watcher.client.subscribeAsync('will/#', { qos: 1 })
    const { raw } = await RawClient.connect(b.port, { will: { topic: 'will/original', payload: Buffer.from('gone'), qos: 1, retain: false } })
    raw.destroy()
    const will = await watcher.inbox.next()
    expect([will.topic, will.payload.toString()]).toEqual(['will/rewritten', 'gone'])
    await watcher.inbox.expectNone(300)
  })

  it('shows preConnect and authenticate the user name of the connecting client', async () => {
    const seen: Array<[string, string | undefined]> = []
    const b = await startBroker({
      hooks: {
        preConnect: (client) => {
          seen.push(['preConnect', client.username])
          return true
        },
        authenticate: (client) => {
          seen.push(['authenticate', client.username])
          return true
        },
      },
    })
    await connectClient(b.url, { username: 'alice', password: 'secret' })
    expect(seen).toEqual([
      ['preConnect', 'alice'],
      ['authenticate', 'alice'],
    ])
  })

  it('admits a stream handed over before ready() only once persisted state is loaded', async () => {
    const store = createMemoryPersistence()
    const clientId = uniqueId('early')
    await store.sessionSave({ clientId, protocolVersion: 4, expiryInterval: 0xffffffff, disconnectedAt: Date.now() - 1000 })
    await store.subscriptionsAdd(clientId, [{ filter: 'early/t', qos: 1 }])
    const stored: Message = { id: 'early-stored', topic: 'early/t', payload: Buffer.from('stored'), qos: 1, retain: false }
    await store.outboundEnqueue([{ clientId, qos: 1 }], stored)

    const broker = createBroker({ persistence: slowToLoad(store, 300) })
    let readyAt = 0
    const ready = broker.ready().then(() => {
      readyAt = Date.now()
    })
    const { server, port, sockets } = await listen(broker)
    onTestFinished(async () => {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()))
      await broker.close()
      for (const socket of sockets) socket.destroy()
      await stopped
    })

    const client = await connectClient(`mqtt://127.0.0.1:${port}`, { clientId, clean: false })
    const connackAt = Date.now()
    await ready
    expect(readyAt).toBeGreaterThan(0)
    expect(connackAt).toBeGreaterThanOrEqual(readyAt)
    expect(client.connack.sessionPresent).toBe(true)
    expect((await client.inbox.next()).payload.toString()).toBe('stored')
    // the stored subscription is live
    await broker.publish({ topic: 'early/t', payload: 'live', qos: 1 })
    expect((await client.inbox.next()).payload.toString()).toBe('live')
  })

  it('acknowledges a client PUBLISH into $SYS and routes and retains nothing', async () => {
    const b = await startBroker({ sysInterval: 0 })
    const watcher = await connectClient(b.url)
    await watcher.client.subscribeAsync('$SYS/#', { qos: 1 })
    const heard: string[] = []
    b.broker.subscribe('$SYS/#', (message) => heard.push(message.topic))

    const { raw } = await RawClient.connect(b.port)
    raw.send({ cmd: 'publish', topic: '$SYS/broker/clients/connected', payload: Buffer.from('forged'), qos: 1, messageId: 7, retain: true, dup: false })
    expect((await raw.next('puback')).messageId).toBe(7)
    raw.send({ cmd: 'publish', topic: '$SYS/broker/version', payload: Buffer.from('forged'), qos: 0, retain: true, dup: false })
    await watcher.inbox.expectNone(400)
    expect(heard).toEqual([])
    const late = await connectClient(b.url)
    await late.client.subscribeAsync('$SYS/#', { qos: 1 })
    await late.inbox.expectNone(300)
  })

  it('denies a delivery when authorizeForward answers with a promise, and logs an error', async () => {
    const logger = capturingLogger()
    const b = await startBroker({
      logger,
      hooks: {
        // a JavaScript host can return a promise whatever the type says
        authorizeForward: (_client, message) => (message.topic === 'fwd/async' ? (Promise.resolve(true) as unknown as ForwardVerdict) : true),
      },
    })
    const sub = await connectClient(b.url)
    await sub.client.subscribeAsync('fwd/#', { qos: 1 })
    await b.broker.publish({ topic: 'fwd/async', payload: 'held back', qos: 1 })
    await b.broker.publish({ topic: 'fwd/sync', payload: 'delivered', qos: 1 })
    expect((await sub.inbox.next()).topic).toBe('fwd/sync')
    await sub.inbox.expectNone(300)
    expect(logger.errors).toContain('authorizeForward must answer synchronously: delivery denied')
  })

  it('emits clientError with the client when the stream of a connected client fails', async () => {
    const b = await startBroker()
    const events = recordEvents(b.broker)
    const clientId = uniqueId('reset')
    const { raw } = await RawClient.connect(b.port, { clientId })
    // a TCP reset: the broker's side of the socket fails with ECONNRESET
    ;(raw.stream as net.Socket).resetAndDestroy()
    const { client, error } = await events.clientErrors.next()
    expect(client?.id).toBe(clientId)
    expect(error).toBeInstanceOf(Error)
  })

  it('refuses a $share filter for an in-process listener with WREN_TOPIC_FILTER_INVALID', async () => {
    const b = await startBroker()
    let thrown: unknown
    try {
      b.broker.subscribe('$share/g/t', () => {})
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(TypeError)
    expect(thrown).toMatchObject({ code: 'WREN_TOPIC_FILTER_INVALID' })
    // a client may still join the group
    const member = await connectClient(b.url)
    await member.client.subscribeAsync('$share/g/t', { qos: 1 })
    await b.broker.publish({ topic: 't', payload: 'shared', qos: 1 })
    expect((await member.inbox.next()).payload.toString()).toBe('shared')
  })

  it('with fullQueueAction drop, counts in-flight and queued messages together against maxQueued, and counts the rest as dropped', async () => {
    const b = await startBroker({ maxInflight: 5, maxQueued: 8, fullQueueAction: 'drop', sysInterval: 1 })
    const { raw } = await RawClient.connect(b.port)
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'held/t', qos: 1 }] })
    await raw.next('suback')
    for (let i = 0; i < 20; i++) await b.broker.publish({ topic: 'held/t', payload: `m${i}`, qos: 1 })

    const inflight = await raw.packets.take(5, (p) => p.cmd === 'publish')
    await raw.packets.expectNone(300, (p) => p.cmd === 'publish')
    for (const p of inflight) raw.send({ cmd: 'puback', messageId: p.messageId as number })
    const queued = await raw.packets.take(3, (p) => p.cmd === 'publish')
    for (const p of queued) raw.send({ cmd: 'puback', messageId: p.messageId as number })
    await raw.packets.expectNone(400, (p) => p.cmd === 'publish')
    const payloads = [...inflight, ...queued].map((p) => (p.cmd === 'publish' ? p.payload.toString() : ''))
    expect(payloads).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7'])

    // the next $SYS update (every second) carries the count; its retained value is what a new subscriber reads
    await sleep(1200)
    const watcher = await connectClient(b.url)
    await watcher.client.subscribeAsync('$SYS/broker/messages/dropped', { qos: 0 })
    expect((await watcher.inbox.next()).payload.toString()).toBe('12')
  })

  it('with drop-old and every held message in flight, refuses the new message rather than holding more than maxQueued', async () => {
    const b = await startBroker({ maxInflight: 5, maxQueued: 5, queueFullPolicy: 'drop-old', fullQueueAction: 'drop', sysInterval: 1 })
    const { raw } = await RawClient.connect(b.port)
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'full/t', qos: 1 }] })
    await raw.next('suback')
    for (let i = 0; i < 8; i++) await b.broker.publish({ topic: 'full/t', payload: `m${i}`, qos: 1 })
    const inflight = await raw.packets.take(5, (p) => p.cmd === 'publish')
    for (const p of inflight) raw.send({ cmd: 'puback', messageId: p.messageId as number })
    await raw.packets.expectNone(400, (p) => p.cmd === 'publish')
    await sleep(1200)
    const watcher = await connectClient(b.url)
    await watcher.client.subscribeAsync('$SYS/broker/messages/dropped', { qos: 0 })
    expect((await watcher.inbox.next()).payload.toString()).toBe('3')
  })

  it('checks the will against the user name authenticate gave the client (e.g. a certificate CN)', async () => {
    const seen: Array<string | undefined> = []
    const b = await startBroker({
      hooks: {
        authenticate: () => ({ ok: true as const, username: 'cn-user' }),
        authorizePublish: (client) => {
          seen.push(client.username)
          return client.username === 'cn-user'
        },
      },
    })
    const raw = await RawClient.open(b.port)
    const connack = await raw.handshake({ will: { topic: 'will/cn', payload: Buffer.from('x'), qos: 0, retain: false } })
    expect(connack.returnCode).toBe(0)
    expect(seen).toEqual(['cn-user'])
  })
})
