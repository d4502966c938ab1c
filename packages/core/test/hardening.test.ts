import { describe, expect, it } from 'vitest'
import { connectClient, RawClient, remainingLength } from './helpers/clients.js'
import { startBroker } from './helpers/start-broker.js'
import { connectV5, rawConnectV5, rawHandshakeV5, rawSubscribe } from './helpers/v5.js'

describe('limits one client runs into', () => {
  it('grants a filter repeated in one SUBSCRIBE once, with one code per copy', async () => {
    let asked = 0
    const b = await startBroker({
      hooks: {
        authorizeSubscribe: () => {
          asked++
          return true
        },
      },
    })
    const { raw } = await RawClient.connect(b.port)
    const copies = Array.from({ length: 50 }, () => ({ topic: 'alice/+/x', qos: 1 as const }))
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [...copies, { topic: 'other', qos: 0 }] })
    expect((await raw.next('suback')).granted).toEqual([...copies.map(() => 1), 0])
    expect(asked).toBe(2)
  })

  it('decodes a v5 SUBSCRIBE with repeated User Properties and a Subscription Identifier, and an UNSUBSCRIBE of several filters', async () => {
    const b = await startBroker()
    const { raw } = await rawConnectV5(b.port)
    const properties = { subscriptionIdentifier: 300, userProperties: { k: ['1', '2'], l: 'x' } }
    raw.send({ cmd: 'subscribe', messageId: 7, properties, subscriptions: [{ topic: 'd/+', qos: 1, nl: false, rap: true, rh: 0 }, { topic: 'e', qos: 2, nl: false, rap: false, rh: 2 }] })
    expect((await raw.next('suback')).granted).toEqual([1, 2])
    await b.broker.publish({ topic: 'd/1', payload: 'x', qos: 1, retain: false })
    expect((await raw.next('publish')).properties?.subscriptionIdentifier).toBe(300)
    raw.send({ cmd: 'unsubscribe', messageId: 8, properties: { userProperties: { k: 'v' } }, unsubscriptions: ['d/+', 'none', 'e'] })
    expect((await raw.next('unsuback')).granted).toEqual([0, 0x11, 0])
  })

  it('refuses a packet over maxConnectPacketSize before CONNECT is accepted, from its fixed header', async () => {
    const b = await startBroker({ maxConnectPacketSize: 1024 })
    const raw = await RawClient.open(b.port)
    raw.write(Buffer.concat([Buffer.from([0x10]), remainingLength(1_000_000)]))
    expect(await raw.closesWithin(3000)).toBe(true)
  })

  it('allows only 64 KiB before CONNECT by default, and maxPacketSize after it', async () => {
    const b = await startBroker()
    const raw = await RawClient.open(b.port)
    raw.write(Buffer.concat([Buffer.from([0x10]), remainingLength(65_536)]))
    expect(await raw.closesWithin(3000)).toBe(true)
    const subscriber = await connectClient(b.url)
    await subscriber.client.subscribeAsync('big', { qos: 1 })
    await subscriber.client.publishAsync('big', Buffer.alloc(200_000, 1), { qos: 1 })
    expect((await subscriber.inbox.next()).payload.length).toBe(200_000)
  })
})

describe('MQTT 5 limits and answers', () => {
  it('answers PUBACK and PUBREC 0x10 when no subscription matched, 0x00 when one did', async () => {
    const b = await startBroker()
    const { raw } = await rawConnectV5(b.port)
    raw.send({ cmd: 'publish', topic: 'nobody/here', payload: Buffer.from('x'), qos: 1, messageId: 1, retain: false, dup: false })
    expect((await raw.next('puback')).reasonCode).toBe(0x10)
    raw.send({ cmd: 'publish', topic: 'nobody/here', payload: Buffer.from('x'), qos: 2, messageId: 2, retain: false, dup: false })
    expect((await raw.next('pubrec')).reasonCode).toBe(0x10)
    await rawSubscribe(raw, 'somebody/#', 0, 3)
    raw.send({ cmd: 'publish', topic: 'somebody/here', payload: Buffer.from('x'), qos: 1, messageId: 4, retain: false, dup: false })
    expect((await raw.next('puback')).reasonCode ?? 0).toBe(0)
  })

  it.each([4, 5] as const)('v%i: acknowledges a QoS 1 publish to its publisher before delivering the message back to it', async (protocolVersion) => {
    const b = await startBroker()
    const { raw } = protocolVersion === 5 ? await rawConnectV5(b.port) : await RawClient.connect(b.port)
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'echo/t', qos: 1 }] })
    await raw.next('suback')
    raw.send({ cmd: 'publish', topic: 'echo/t', payload: Buffer.from('x'), qos: 1, messageId: 7, retain: false, dup: false })
    await raw.next('publish')
    await raw.next('puback')
    const order = raw.packets.received.map((packet) => packet.cmd).filter((cmd) => cmd === 'puback' || cmd === 'publish')
    expect(order).toEqual(['puback', 'publish'])
  })

  it('leaves Reason Strings out of CONNACK and DISCONNECT with reasonStrings: false', async () => {
    const b = await startBroker({ reasonStrings: false, hooks: { preConnect: (client) => client.id !== 'refused' } })
    const refused = await rawHandshakeV5(b.port, { clientId: 'refused' })
    expect(refused.connack.reasonCode).toBe(0x87)
    expect(refused.connack.properties?.reasonString).toBeUndefined()
    const { raw } = await rawConnectV5(b.port)
    raw.send({ cmd: 'publish', topic: 'a/+', payload: Buffer.from('x'), qos: 0, retain: false, dup: false })
    const disconnect = await raw.next('disconnect')
    expect(disconnect.reasonCode).toBe(0x90)
    expect(disconnect.properties?.reasonString).toBeUndefined()
  })

  it('closes with 0x97 a client whose topic aliases would hold more than maxTopicAliasBytes', async () => {
    const b = await startBroker({ maxTopicAliasBytes: 100 })
    const { raw } = await rawConnectV5(b.port)
    raw.send({ cmd: 'publish', topic: `t/${'a'.repeat(60)}`, payload: Buffer.from('x'), qos: 0, retain: false, dup: false, properties: { topicAlias: 1 } })
    raw.send({ cmd: 'publish', topic: `t/${'b'.repeat(20)}`, payload: Buffer.from('x'), qos: 0, retain: false, dup: false, properties: { topicAlias: 1 } })
    raw.send({ cmd: 'publish', topic: `t/${'c'.repeat(80)}`, payload: Buffer.from('x'), qos: 0, retain: false, dup: false, properties: { topicAlias: 2 } })
    expect((await raw.next('disconnect')).reasonCode).toBe(0x97)
  })

  it('sends topics in full once the aliases it gave a client hold maxTopicAliasBytes', async () => {
    const b = await startBroker({ maxTopicAliasBytes: 100 })
    const subscriber = await connectV5(b.url, { properties: { topicAliasMaximum: 100 } })
    await subscriber.client.subscribeAsync('t/#', { qos: 0 })
    for (const letter of ['a', 'b', 'b', 'a']) await b.broker.publish({ topic: `t/${letter.repeat(60)}`, payload: 'x' })
    const wire: number[] = []
    for (let i = 0; i < 4; i++) wire.push((await subscriber.messages.next()).wireTopic.length)
    // 'a' got an alias (reused, so sent as ''); 'b' did not fit the budget and always goes in full
    expect(wire).toEqual([62, 62, 62, 0])
  })
})

describe('wills obey the publish rules', () => {
  it('refuses an MQTT 5 will whose payload claims UTF-8 and is not (0x99), or whose Response Topic has a wildcard', async () => {
    const b = await startBroker()
    const bad = { topic: 'w/t', payload: Buffer.from([0xff, 0xfe]), qos: 0 as const, retain: false, properties: { payloadFormatIndicator: true } }
    expect((await rawHandshakeV5(b.port, { will: bad })).connack.reasonCode).toBe(0x99)
    const wildcard = { topic: 'w/t', payload: Buffer.from('x'), qos: 0 as const, retain: false, properties: { responseTopic: 'reply/#' } }
    const raw = await RawClient.open(b.port, 5)
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'wild-will', clean: true, keepalive: 60, will: wildcard })
    expect(await raw.closesWithin(3000)).toBe(true)
    expect(raw.packets.received.filter((p) => p.cmd === 'connack')).toEqual([])
  })

  it('refuses a will on a $SYS topic: nobody gets it, retained or live', async () => {
    const b = await startBroker({ sysInterval: 0 })
    const raw = await RawClient.open(b.port)
    const connack = await raw.handshake({ will: { topic: '$SYS/broker/clients/connected', payload: Buffer.from('999'), qos: 0, retain: true } })
    expect(connack.returnCode).toBe(5)
    expect(await raw.closesWithin(3000)).toBe(true)
    const watcher = await connectClient(b.url)
    await watcher.client.subscribeAsync(['$SYS/broker/clients/connected', 'marker'], { qos: 0 })
    await watcher.client.publishAsync('marker', 'm', { qos: 1 })
    expect((await watcher.inbox.next()).topic).toBe('marker')
  })
})

describe('stored data one client can pin', () => {
  it('keeps at most maxRetainedMessages retained messages; replacing and clearing still work', async () => {
    const b = await startBroker({ maxRetainedMessages: 2, sysInterval: 0 })
    const publisher = await connectClient(b.url)
    for (const topic of ['r/1', 'r/2', 'r/3']) await publisher.client.publishAsync(topic, topic, { qos: 1, retain: true })
    await publisher.client.publishAsync('r/1', 'r/1 again', { qos: 1, retain: true })
    expect(await b.broker.persistence.retainedCount()).toBe(2)
    const reader = await connectClient(b.url)
    await reader.client.subscribeAsync('r/#', { qos: 1 })
    const got = [await reader.inbox.next(), await reader.inbox.next()].map((m) => m.payload.toString()).sort()
    expect(got).toEqual(['r/1 again', 'r/2'])
    await publisher.client.publishAsync('r/2', '', { qos: 1, retain: true })
    await publisher.client.publishAsync('r/3', 'r/3', { qos: 1, retain: true })
    expect((await b.broker.persistence.retainedMatch('r/3')).map((m) => m.payload.toString())).toEqual(['r/3'])
  })

  it('keeps at most maxRetainedBytes of retained payloads: past it a message is delivered, not kept, and its topic cleared', async () => {
    const b = await startBroker({ maxRetainedBytes: 10, sysInterval: 0 })
    const publisher = await connectClient(b.url)
    await publisher.client.publishAsync('r/1', 'aaaaaa', { qos: 1, retain: true })
    await publisher.client.publishAsync('r/2', 'bbbb', { qos: 1, retain: true })
    const live = await connectClient(b.url)
    await live.client.subscribeAsync('r/#', { qos: 1 })
    const kept = [await live.inbox.next(), await live.inbox.next()].map((m) => m.payload.toString()).sort()
    expect(kept).toEqual(['aaaaaa', 'bbbb'])
    await publisher.client.publishAsync('r/3', 'c', { qos: 1, retain: true })
    expect((await live.inbox.next()).payload.toString()).toBe('c')
    await publisher.client.publishAsync('r/1', 'aaaaaaa', { qos: 1, retain: true })
    expect((await live.inbox.next()).payload.toString()).toBe('aaaaaaa')
    expect(await b.broker.persistence.retainedBytes()).toBe(4)
    expect((await b.broker.persistence.retainedMatch('r/#')).map((m) => m.topic)).toEqual(['r/2'])
    await publisher.client.publishAsync('r/1', 'dddddd', { qos: 1, retain: true })
    expect(await b.broker.persistence.retainedBytes()).toBe(10)
  })

  it('refuses a CONNECT that would store more than maxSessions sessions (0x97; 3.1.1: 3); returning and clean clients still connect', async () => {
    const b = await startBroker({ maxSessions: 2 })
    for (const clientId of ['p1', 'p2']) (await RawClient.connect(b.port, { clientId, clean: false })).raw.destroy()
    const refused = await RawClient.open(b.port)
    refused.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'p3', clean: false, keepalive: 0 })
    expect((await refused.next('connack')).returnCode).toBe(3)
    const v5 = await rawHandshakeV5(b.port, { clientId: 'p4', properties: { sessionExpiryInterval: 60 } })
    expect(v5.connack.reasonCode).toBe(0x97)
    const back = await RawClient.connect(b.port, { clientId: 'p1', clean: false })
    expect(back.connack.sessionPresent).toBe(true)
    const clean = await RawClient.connect(b.port, { clientId: 'c1', clean: true })
    expect(clean.connack.returnCode).toBe(0)
    expect(await b.broker.persistence.sessionCount()).toBe(2)
  })

  it('expires an abandoned 3.1.1 clean-session-0 session after maxSessionExpiryInterval (persistent_client_expiration)', async () => {
    const b = await startBroker({ maxSessionExpiryInterval: 1 })
    const { raw } = await RawClient.connect(b.port, { clientId: 'abandoned', clean: false })
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'gone/#', qos: 1 }] })
    await raw.next('suback')
    raw.destroy()
    // bounded wait for the broker's own expiry timer to delete the stored session
    for (let i = 0; i < 100 && (await b.broker.persistence.sessionGet('abandoned')) !== undefined; i++) await new Promise((resolve) => setTimeout(resolve, 50))
    expect(await b.broker.persistence.sessionGet('abandoned')).toBeUndefined()
    const back = await RawClient.connect(b.port, { clientId: 'abandoned', clean: false })
    expect(back.connack.sessionPresent).toBe(false)
  })
})
