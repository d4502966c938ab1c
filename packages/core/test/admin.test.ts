import { describe, expect, it } from 'vitest'
import { AdminError } from '../src/index.js'
import { connectClient, uniqueId } from './helpers/clients.js'
import { recordEvents } from './helpers/events.js'
import { startBroker } from './helpers/start-broker.js'

describe('broker.admin', () => {
  it('lists connected clients with their details and traffic', async () => {
    const b = await startBroker({ sysInterval: 0 })
    const id = uniqueId('detail')
    const c = await connectClient(b.url, { clientId: id, username: 'alice', keepalive: 30, protocolVersion: 5, properties: { sessionExpiryInterval: 60 } })
    await c.client.subscribeAsync('a/+', { qos: 1 })
    await c.client.publishAsync('a/1', 'hello', { qos: 1 })
    await c.inbox.next((m) => m.topic === 'a/1', 3000, 'own message')
    const [details] = b.broker.admin.clients()
    expect(details).toMatchObject({
      id,
      username: 'alice',
      transport: 'tcp',
      protocolVersion: 5,
      keepalive: 30,
      sessionExpiryInterval: 60,
      subscriptions: [{ filter: 'a/+', qos: 1 }],
      messagesIn: 1,
      messagesOut: 1,
    })
    expect(details?.address).toMatch(/^127\.0\.0\.1:\d+$/)
    expect(details?.connectedAt).toBeGreaterThan(0)
    // CONNECT, SUBSCRIBE, PUBLISH in; CONNACK, SUBACK, PUBACK, PUBLISH out (the PUBACK from the client may still travel)
    expect(details?.packetsIn).toBeGreaterThanOrEqual(3)
    expect(details?.packetsOut).toBe(4)
    expect(details?.bytesIn).toBeGreaterThan(0)
    expect(details?.bytesOut).toBeGreaterThan(0)
    expect(b.broker.admin.client('nobody')).toBeUndefined()
  })

  it('kicks a v5 client with DISCONNECT 0x98 and a v3 client by closing', async () => {
    const b = await startBroker({ sysInterval: 0 })
    const events = recordEvents(b.broker)
    const v5 = await connectClient(b.url, { protocolVersion: 5 })
    const v3 = await connectClient(b.url)
    const disconnect = new Promise<number | undefined>((resolve) => v5.client.once('disconnect', (packet) => resolve(packet.reasonCode)))
    b.broker.admin.kick(v5.client.options.clientId as string)
    expect(await disconnect).toBe(0x98)
    await v5.closed
    b.broker.admin.kick(v3.client.options.clientId as string)
    await v3.closed
    await events.disconnected.next((e) => e.reason === 'kicked' && e.client.id === v3.client.options.clientId, 3000, 'v3 kicked')
    expect(() => b.broker.admin.kick('nobody')).toThrow(AdminError)
  })

  it('lists offline sessions from the store and deletes them with their subscriptions', async () => {
    const b = await startBroker({ sysInterval: 0 })
    const events = recordEvents(b.broker)
    const id = uniqueId('offline')
    const c = await connectClient(b.url, { clientId: id, clean: false })
    await c.client.subscribeAsync('keep/#', { qos: 1 })
    await c.client.endAsync()
    await events.disconnected.next((e) => e.client.id === id, 3000, 'offline')
    // The offline record is written once the connection's state is flushed, a few turns of the event loop later.
    let summary = (await b.broker.admin.sessions()).find((s) => s.clientId === id)
    for (let turn = 0; turn < 1000 && summary?.state !== 'offline'; turn++) {
      await new Promise((resolve) => setImmediate(resolve))
      summary = (await b.broker.admin.sessions()).find((s) => s.clientId === id)
    }
    expect(summary).toMatchObject({ state: 'offline', node: b.broker.id, expiryInterval: 0xffffffff })
    await b.broker.publish({ topic: 'keep/1', payload: 'x', qos: 1 })
    expect(await b.broker.admin.session(id)).toMatchObject({ state: 'offline', queued: 1, subscriptions: [{ filter: 'keep/#', qos: 1 }] })
    expect(b.broker.admin.subscriptions({ clientId: id }).map((s) => s.filter)).toEqual(['keep/#'])
    expect((await b.broker.admin.gauges()).sessionsOffline).toBe(1)

    await b.broker.admin.deleteSession(id)
    expect(await b.broker.admin.session(id)).toBeUndefined()
    expect(b.broker.admin.subscriptions({ clientId: id })).toEqual([])
    await expect(b.broker.admin.deleteSession(id)).rejects.toMatchObject({ code: 'WREN_SESSION_NOT_FOUND' })
    const again = await connectClient(b.url, { clientId: id, clean: false })
    expect(again.connack.sessionPresent).toBe(false)
  })

  it('deletes the session of a connected client: disconnected, and nothing is resumed', async () => {
    const b = await startBroker({ sysInterval: 0 })
    const id = uniqueId('online')
    const c = await connectClient(b.url, { clientId: id, protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 3600 } })
    await c.client.subscribeAsync('x', { qos: 1 })
    await b.broker.admin.deleteSession(id)
    await c.closed
    expect(await b.broker.admin.session(id)).toBeUndefined()
    const again = await connectClient(b.url, { clientId: id, protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 3600 } })
    expect(again.connack.sessionPresent).toBe(false)
  })

  it('finds subscriptions by client, by filter and by topic, shared ones marked', async () => {
    const b = await startBroker({ sysInterval: 0 })
    const one = await connectClient(b.url, { clientId: uniqueId('s1'), protocolVersion: 5 })
    const two = await connectClient(b.url, { clientId: uniqueId('s2'), protocolVersion: 5 })
    await one.client.subscribeAsync(['t/+', 'other'], { qos: 1 })
    await two.client.subscribeAsync('$share/g/t/#', { qos: 0 })
    b.broker.subscribe('t/#', () => {})
    const idOne = one.client.options.clientId as string
    const idTwo = two.client.options.clientId as string
    expect(b.broker.admin.subscriptions().map((s) => `${s.clientId} ${s.filter}`)).toEqual([`${idOne} other`, `${idOne} t/+`, `${idTwo} $share/g/t/#`])
    expect(b.broker.admin.subscriptions({ clientId: idTwo })).toEqual([
      { clientId: idTwo, filter: '$share/g/t/#', qos: 0, shared: true, noLocal: false, retainAsPublished: false, subscriptionIdentifier: undefined },
    ])
    expect(b.broker.admin.subscriptions({ filter: 'other' }).map((s) => s.clientId)).toEqual([idOne])
    expect(b.broker.admin.subscriptions({ topic: 't/1' }).map((s) => s.filter)).toEqual(['t/+', '$share/g/t/#'])
    expect(() => b.broker.admin.subscriptions({ topic: 't/#' })).toThrow(AdminError)
    expect(await b.broker.admin.gauges()).toMatchObject({ subscriptions: 3, sharedSubscriptions: 1, clientsConnected: 2, sessionsOnline: 2 })
  })

  it('browses, reads and deletes retained messages without routing anything', async () => {
    const b = await startBroker({ sysInterval: 0 })
    await b.broker.publish({ topic: 'r/b', payload: 'two', retain: true })
    await b.broker.publish({ topic: 'r/a', payload: 'one', retain: true })
    await b.broker.publish({ topic: 'other', payload: '3', retain: true })
    expect((await b.broker.admin.retained('r/#')).map((m) => m.topic)).toEqual(['r/a', 'r/b'])
    expect((await b.broker.admin.retained()).map((m) => m.topic)).toEqual(['other', 'r/a', 'r/b'])
    expect((await b.broker.admin.retainedMessage('r/a'))?.payload.toString()).toBe('one')
    const watcher = await connectClient(b.url)
    await watcher.client.subscribeAsync('r/#', { qos: 0 })
    await watcher.inbox.next((m) => m.topic === 'r/b', 3000, 'retained r/b')
    expect(await b.broker.admin.deleteRetained('r/a')).toBe(true)
    expect(await b.broker.admin.deleteRetained('r/a')).toBe(false)
    expect(await b.broker.admin.retainedMessage('r/a')).toBeUndefined()
    expect((await b.broker.admin.gauges()).retainedMessages).toBe(2)
    await b.broker.publish({ topic: 'r/marker', payload: 'm' })
    await watcher.inbox.next((m) => m.topic === 'r/marker', 3000, 'marker')
    expect(watcher.inbox.unread.filter((m) => m.topic === 'r/a' && m.payload.length === 0)).toEqual([])
    await expect(b.broker.admin.retained('$share/g/x')).rejects.toBeInstanceOf(AdminError)
  })

  it("emits 'denied' for refused connects, publishes and subscriptions", async () => {
    const b = await startBroker({
      sysInterval: 0,
      hooks: {
        authenticate: (_client, { username }) => username !== 'mallory',
        authorizePublish: (_client, message) => message.topic !== 'secret',
        authorizeSubscribe: (_client, subscription) => (subscription.filter === 'forbidden' ? { ok: false, reasonCode: 0x97, reason: 'over quota' } : true),
      },
    })
    const denied: string[] = []
    b.broker.on('denied', (client, action, detail, reasonCode, reason) => denied.push(`${client.id} ${action} ${detail} 0x${reasonCode.toString(16)} ${reason ?? '-'}`))
    await expect(connectClient(b.url, { clientId: 'm', username: 'mallory', password: 'x' })).rejects.toThrow()
    const c = await connectClient(b.url, { clientId: 'ok' })
    await expect(c.client.subscribeAsync('forbidden', { qos: 0 })).rejects.toThrow()
    await c.client.publishAsync('secret', 'x', { qos: 1 })
    expect(denied).toEqual(['m connect mallory 0x86 -', 'ok subscribe forbidden 0x97 over quota', 'ok publish secret 0x87 -'])
  })
})
