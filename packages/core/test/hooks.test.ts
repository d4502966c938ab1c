import net from 'node:net'
import { describe, expect, it } from 'vitest'
import { ReasonCode, type ClientInfo, type Denial, type Message, type UserProperties } from '../src/index.js'
import { connectClient, RawClient, refusal, uniqueId, type TestClient } from './helpers/clients.js'
import { connectV5 } from './helpers/v5.js'
import { capturingLogger } from './helpers/logger.js'
import { recordEvents } from './helpers/events.js'
import { startBroker, type StartedBroker } from './helpers/start-broker.js'

// The hook paths docs/auth.md promises, over TCP with MQTT.js 3.1.1 and 5 clients. The examples of that page
// (tenant rewrite, guest redaction, HMAC exchange, ...) are run by docs-examples.test.ts; this file covers the
// denial table: every deciding hook refusing each way it can, in both protocol versions.

type Mode = 'false' | 'denial' | 'throws' | 'rejects'
const MODES: Mode[] = ['false', 'denial', 'throws', 'rejects']

/** What a hook answers to refuse, in each mode; a throwing and a rejecting hook must deny too. */
function refuse(mode: Mode, denial: Denial): false | Denial | Promise<never> {
  if (mode === 'false') return false
  if (mode === 'denial') return denial
  if (mode === 'throws') throw new Error('hook exploded')
  return Promise.reject(new Error('hook rejected'))
}




/** The SUBACK codes of one filter; MQTT.js rejects when one is a failure and carries the packet. */
async function granted(subscriber: TestClient, filter: string, qos: 0 | 1 | 2 = 1): Promise<number[]> {
  try {
    return (await subscriber.client.subscribeAsync(filter, { qos })).map((grant) => grant.qos)
  } catch (error) {
    return (error as { packet: { granted: number[] } }).packet.granted
  }
}

/** A bystander keeps receiving, and the broker still admits a new client. */
async function expectHealthy(b: StartedBroker, bystander: TestClient): Promise<void> {
  const payload = uniqueId('health')
  await b.broker.publish({ topic: 'health/check', payload, qos: 1 })
  const received = await bystander.inbox.next((m) => m.topic === 'health/check')
  expect(received.payload.toString()).toBe(payload)
  const fresh = await connectClient(b.url, { clientId: uniqueId('fresh') })
  fresh.client.end(true)
}

async function bystanderOf(b: StartedBroker): Promise<TestClient> {
  const bystander = await connectClient(b.url, { clientId: uniqueId('bystander'), protocolVersion: 5 })
  await bystander.client.subscribeAsync('#', { qos: 1 })
  return bystander
}

const failureLogged = (mode: Mode): boolean => mode === 'throws' || mode === 'rejects'

describe.each(MODES)('a hook refusing with %s', (mode) => {
  it('preConnect: 3.1.1 gets CONNACK 5, MQTT 5 the reason code (0x87 by default); others carry on', async () => {
    const logger = capturingLogger()
    const b = await startBroker({
      sysInterval: 0,
      logger,
      hooks: { preConnect: (client) => (client.id.startsWith('victim') ? refuse(mode, { ok: false, reasonCode: ReasonCode.Banned }) : undefined) },
    })
    const bystander = await bystanderOf(b)
    expect(await refusal(connectClient(b.url, { clientId: uniqueId('victim') }))).toBe(5)
    expect(await refusal(connectClient(b.url, { clientId: uniqueId('victim'), protocolVersion: 5 }))).toBe(mode === 'denial' ? 0x8a : 0x87)
    expect(logger.warnings.filter((w) => w === 'preConnect hook failed: connection refused')).toHaveLength(failureLogged(mode) ? 2 : 0)
    await expectHealthy(b, bystander)
  })

  it('authenticate: 3.1.1 gets CONNACK 4 (5 for 0x87), MQTT 5 the reason code (0x86 by default); others carry on', async () => {
    const logger = capturingLogger()
    const b = await startBroker({
      sysInterval: 0,
      logger,
      hooks: { authenticate: (client) => (client.id.startsWith('victim') ? refuse(mode, { ok: false, reasonCode: ReasonCode.NotAuthorized }) : undefined) },
    })
    const bystander = await bystanderOf(b)
    const credentials = { username: 'user', password: 'pass' }
    expect(await refusal(connectClient(b.url, { ...credentials, clientId: uniqueId('victim') }))).toBe(mode === 'denial' ? 5 : 4)
    const v5 = connectClient(b.url, { ...credentials, clientId: uniqueId('victim'), protocolVersion: 5 })
    expect(await refusal(v5)).toBe(mode === 'denial' ? 0x87 : 0x86)
    expect(logger.warnings.filter((w) => w === 'authenticate hook failed: connection refused')).toHaveLength(failureLogged(mode) ? 2 : 0)
    await expectHealthy(b, bystander)
  })

  it('authorizePublish: 3.1.1 is acknowledged and dropped, MQTT 5 gets PUBACK with the code (0x87 by default); both stay connected', async () => {
    const logger = capturingLogger()
    const b = await startBroker({
      sysInterval: 0,
      logger,
      hooks: { authorizePublish: (_client, message) => (message.topic.startsWith('denied/') ? refuse(mode, { ok: false, reasonCode: ReasonCode.QuotaExceeded }) : undefined) },
    })
    const bystander = await bystanderOf(b)
    const v3 = await connectClient(b.url)
    const v5 = await connectClient(b.url, { protocolVersion: 5 })
    await v3.client.publishAsync('denied/v3', 'x', { qos: 1 })
    await v3.client.publishAsync('denied/v3-qos0', 'x', { qos: 0 })
    await expect(v5.client.publishAsync('denied/v5', 'x', { qos: 1 })).rejects.toMatchObject({ code: mode === 'denial' ? 0x97 : 0x87 })
    await v5.client.publishAsync('denied/v5-qos0', 'x', { qos: 0 })
    await v3.client.publishAsync('allowed/v3', 'x', { qos: 1 })
    await v5.client.publishAsync('allowed/v5', 'x', { qos: 1 })
    const delivered = await bystander.inbox.take(2)
    expect(delivered.map((m) => m.topic)).toEqual(['allowed/v3', 'allowed/v5'])
    await bystander.inbox.expectNone(100, (m) => m.topic.startsWith('denied/'))
    expect([v3.client.connected, v5.client.connected]).toEqual([true, true])
    expect(logger.warnings.filter((w) => w === 'authorizePublish failed: message denied')).toHaveLength(failureLogged(mode) ? 4 : 0)
    await expectHealthy(b, bystander)
  })

  it('authorizeSubscribe: 3.1.1 gets SUBACK 0x80, MQTT 5 the code (0x87 by default), next to granted filters; nothing is delivered on it', async () => {
    const logger = capturingLogger()
    const b = await startBroker({
      sysInterval: 0,
      logger,
      hooks: { authorizeSubscribe: (_client, sub) => (sub.filter.startsWith('denied/') ? refuse(mode, { ok: false, reasonCode: ReasonCode.QuotaExceeded }) : undefined) },
    })
    const bystander = await bystanderOf(b)
    const v3 = await connectClient(b.url)
    const v5 = await connectClient(b.url, { protocolVersion: 5 })
    expect(await granted(v3, 'denied/#')).toEqual([0x80])
    expect(await granted(v5, 'denied/#')).toEqual([mode === 'denial' ? 0x97 : 0x87])
    const both = await v5.client.subscribeAsync({ 'allowed/#': { qos: 1 }, 'denied/x': { qos: 1 } }).catch((error: { packet: { granted: number[] } }) => error.packet.granted)
    expect(both).toEqual([1, mode === 'denial' ? 0x97 : 0x87])
    await b.broker.publish({ topic: 'denied/x', payload: 'x', qos: 1 })
    await b.broker.publish({ topic: 'allowed/x', payload: 'x', qos: 1 })
    expect((await v5.inbox.next()).topic).toBe('allowed/x')
    await v3.inbox.expectNone(100)
    await v5.inbox.expectNone(0)
    expect(logger.warnings.filter((w) => w === 'authorizeSubscribe failed: denied')).toHaveLength(failureLogged(mode) ? 3 : 0)
    await expectHealthy(b, bystander)
  })
})

describe('authorizeForward', () => {
  it('drops, rewrites or passes each delivery per subscriber, in 3.1.1 and 5', async () => {
    const forward = (client: ClientInfo, message: Message): boolean | Message | undefined => {
      if (client.id.startsWith('drop')) return false
      if (client.id.startsWith('rewrite')) return { ...message, topic: `for/${client.id}`, payload: Buffer.from('changed') }
      return undefined
    }
    const b = await startBroker({ sysInterval: 0, hooks: { authorizeForward: forward } })
    const subscribers = await Promise.all(
      ['drop', 'rewrite', 'pass'].flatMap((kind) => [4, 5].map((version) => connectClient(b.url, { clientId: uniqueId(kind), protocolVersion: version as 4 | 5 }))),
    )
    for (const subscriber of subscribers) await subscriber.client.subscribeAsync('news/#', { qos: 1 })
    await b.broker.publish({ topic: 'news/today', payload: 'original', qos: 1 })
    const [drop3, drop5, rewrite3, rewrite5, pass3, pass5] = subscribers as [TestClient, TestClient, TestClient, TestClient, TestClient, TestClient]
    for (const rewritten of [rewrite3, rewrite5]) {
      const m = await rewritten.inbox.next()
      expect([m.topic, m.payload.toString()]).toEqual([`for/${rewritten.client.options.clientId}`, 'changed'])
    }
    for (const passed of [pass3, pass5]) expect((await passed.inbox.next()).payload.toString()).toBe('original')
    await drop3.inbox.expectNone(200)
    await drop5.inbox.expectNone(0)
  })

  it('drops the delivery of a hook that throws or answers with a promise, logs it, and keeps the client', async () => {
    const logger = capturingLogger()
    const forward = (client: ClientInfo): boolean | undefined => {
      if (client.id.startsWith('throw')) throw new Error('forward exploded')
      if (client.id.startsWith('async')) return Promise.resolve(true) as unknown as boolean
      return undefined
    }
    const b = await startBroker({ sysInterval: 0, logger, hooks: { authorizeForward: forward } })
    const thrower = await connectClient(b.url, { clientId: uniqueId('throw') })
    const asyncOne = await connectClient(b.url, { clientId: uniqueId('async'), protocolVersion: 5 })
    const bystander = await bystanderOf(b)
    for (const subscriber of [thrower, asyncOne]) await subscriber.client.subscribeAsync('news/#', { qos: 1 })
    await b.broker.publish({ topic: 'news/a', payload: 'x', qos: 1 })
    await b.broker.publish({ topic: 'news/b', payload: 'x', qos: 0 })
    expect((await bystander.inbox.take(2)).map((m) => m.topic)).toEqual(['news/a', 'news/b'])
    await thrower.inbox.expectNone(200)
    await asyncOne.inbox.expectNone(0)
    expect(logger.warnings.filter((w) => w === 'authorizeForward threw: delivery denied')).toHaveLength(2)
    expect(logger.errors.filter((e) => e === 'authorizeForward must answer synchronously: delivery denied')).toHaveLength(2)
    expect([thrower.client.connected, asyncOne.client.connected]).toEqual([true, true])
    await expectHealthy(b, bystander)
  })
})

describe('hooks that shape what is granted and routed', () => {
  it('authorizePublish rewriting the topic (a tenant prefix): subscribers, the retained store and published see the new topic', async () => {
    const seen: string[] = []
    const b = await startBroker({
      sysInterval: 0,
      hooks: {
        authorizePublish: (client, message) => ({ ok: true, message: { ...message, topic: `tenants/${client.username ?? 'anon'}/${message.topic}` } }),
        published: (message, client) => void (client && seen.push(message.topic)),
      },
    })
    const watcher = await connectClient(b.url, { protocolVersion: 5 })
    await watcher.client.subscribeAsync('#', { qos: 1 })
    const v3 = await connectClient(b.url, { username: 'acme' })
    const v5 = await connectClient(b.url, { username: 'globex', protocolVersion: 5 })
    await v3.client.publishAsync('sensors/t', 'from acme', { qos: 1, retain: true })
    await v5.client.publishAsync('sensors/t', 'from globex', { qos: 2 })
    const delivered = await watcher.inbox.take(2)
    expect(delivered.map((m) => `${m.topic} ${m.payload}`)).toEqual(['tenants/acme/sensors/t from acme', 'tenants/globex/sensors/t from globex'])
    await watcher.inbox.expectNone(100)
    expect(seen).toEqual(['tenants/acme/sensors/t', 'tenants/globex/sensors/t'])

    const late = await connectClient(b.url)
    await late.client.subscribeAsync('tenants/acme/#', { qos: 1 })
    const retained = await late.inbox.next()
    expect([retained.topic, retained.retain]).toEqual(['tenants/acme/sensors/t', true])
  })

  it('authorizeSubscribe downgrading the QoS: the SUBACK carries it and deliveries use it, in 3.1.1 and 5', async () => {
    const b = await startBroker({
      sysInterval: 0,
      hooks: { authorizeSubscribe: (_client, sub) => (sub.qos > 0 ? { ok: true, subscription: { ...sub, qos: sub.filter.startsWith('low/') ? 0 : 1 } } : undefined) },
    })
    for (const protocolVersion of [4, 5] as const) {
      const subscriber = await connectClient(b.url, { protocolVersion })
      expect(await granted(subscriber, 'high/#', 2)).toEqual([1])
      expect(await granted(subscriber, 'low/#', 2)).toEqual([0])
      await b.broker.publish({ topic: 'high/x', payload: 'x', qos: 2 })
      await b.broker.publish({ topic: 'low/x', payload: 'x', qos: 2 })
      const [high, low] = await subscriber.inbox.take(2)
      expect([high?.topic, high?.qos, low?.topic, low?.qos]).toEqual(['high/x', 1, 'low/x', 0])
    }
  })

  it('published sees every routed message once (clients of both versions, the host, retained, wills), not denied ones, and never delays the ack', async () => {
    const seen: string[] = []
    let release = (): void => undefined
    const logger = capturingLogger()
    const b = await startBroker({
      sysInterval: 0,
      logger,
      hooks: {
        authorizePublish: (_client, message) => !message.topic.startsWith('denied/'),
        published: [
          (message, client) => void seen.push(`${client?.id ?? 'null'} ${message.topic}${message.retain ? ' retained' : ''}`),
          // A slow consumer of the chain: the publisher's PUBACK must not wait for it.
          (message) => (message.topic === 'slow/x' ? new Promise<void>((resolve) => (release = resolve)) : undefined),
          (message) => (message.topic === 'rejects/x' ? Promise.reject(new Error('audit store down')) : undefined),
        ],
      },
    })
    const v3 = await connectClient(b.url, { clientId: 'pub-v3' })
    const v5 = await connectClient(b.url, { clientId: 'pub-v5', protocolVersion: 5 })
    await v3.client.publishAsync('a/qos0', 'x', { qos: 0 })
    await v3.client.publishAsync('a/qos1', 'x', { qos: 1, retain: true })
    await v5.client.publishAsync('a/qos2', 'x', { qos: 2 })
    await v5.client.publishAsync('denied/x', 'x', { qos: 1 }).catch(() => undefined)
    await b.broker.publish({ topic: 'host/x', payload: 'x' })
    const willing = await connectClient(b.url, { clientId: 'willing', will: { topic: 'wills/x', payload: Buffer.from('gone'), qos: 1, retain: false } })
    willing.client.stream.destroy()
    await expect.poll(() => seen).toContain('null wills/x')
    const started = Date.now()
    await v5.client.publishAsync('slow/x', 'x', { qos: 1 })
    expect(Date.now() - started).toBeLessThan(1000)
    await v3.client.publishAsync('rejects/x', 'x', { qos: 1 })
    await expect.poll(() => logger.warnings).toContain('published hook failed')
    release()
    expect(seen).toEqual([
      'pub-v3 a/qos0',
      'pub-v3 a/qos1 retained',
      'pub-v5 a/qos2',
      'null host/x',
      'null wills/x',
      'pub-v5 slow/x',
      'pub-v3 rejects/x',
    ])
    // the hook sees messages in order: a call too many (of slow/x's chain, once released) would come before this one
    await b.broker.publish({ topic: 'host/marker', payload: 'x' })
    await expect.poll(() => seen).toContain('null host/marker')
    expect(seen).toHaveLength(8)
  })

  it('authenticate attaching data and a user name: every later hook and the events see them', async () => {
    const seen: string[] = []
    const record = (hook: string, client: ClientInfo | null): void => void seen.push(`${hook}:${client?.username}:${String(client?.data.tenant)}`)
    const b = await startBroker({
      sysInterval: 0,
      hooks: {
        authenticate: (_client, { username }) => ({ ok: true, username: `user-${username}`, data: { tenant: `tenant-of-${username}` } }),
        authorizeSubscribe: (client) => void record('subscribe', client),
        authorizePublish: (client) => void record('publish', client),
        authorizeForward: (client) => void record('forward', client),
        published: (_message, client) => void record('published', client),
      },
    })
    const events = recordEvents(b.broker)
    const c = await connectClient(b.url, { username: 'bob', protocolVersion: 5 })
    const connected = await events.connected.next()
    expect([connected.username, connected.data]).toEqual(['user-bob', { tenant: 'tenant-of-bob' }])
    await c.client.subscribeAsync('t/#', { qos: 1 })
    await c.client.publishAsync('t/x', 'x', { qos: 1 })
    await c.inbox.next()
    await expect.poll(() => seen.length).toBe(4)
    expect(seen.sort()).toEqual(['forward', 'publish', 'published', 'subscribe'].map((hook) => `${hook}:user-bob:tenant-of-bob`))
  })

  it('preConnect refusing by remote address: 127.0.0.2 is refused (5 / 0x87), 127.0.0.1 admitted', async () => {
    const addresses: Array<string | undefined> = []
    const b = await startBroker({
      sysInterval: 0,
      hooks: {
        preConnect: (client) => {
          addresses.push(client.meta.remoteAddress)
          return client.meta.remoteAddress === '127.0.0.2' ? false : undefined
        },
      },
    })
    const fromAddress = async (localAddress: string, protocolVersion: 4 | 5): Promise<number | undefined> => {
      const socket = net.connect({ host: '127.0.0.1', port: b.port, localAddress })
      await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject))
      const raw = new RawClient(socket, protocolVersion)
      const connack = await raw.handshake({ protocolVersion })
      return connack.returnCode ?? connack.reasonCode
    }
    expect(await fromAddress('127.0.0.2', 4)).toBe(5)
    expect(await fromAddress('127.0.0.2', 5)).toBe(0x87)
    expect(await fromAddress('127.0.0.1', 4)).toBe(0)
    expect(await fromAddress('127.0.0.1', 5)).toBe(0)
    expect(addresses).toEqual(['127.0.0.2', '127.0.0.2', '127.0.0.1', '127.0.0.1'])
  })
})

describe('MQTT 5 User Properties of SUBSCRIBE, UNSUBSCRIBE and DISCONNECT', () => {
  it('reach authorizeSubscribe and the subscribed, unsubscribed and clientDisconnected events; 3.1.1 clients and packets without them give undefined', async () => {
    const seen: Array<UserProperties | undefined> = []
    const b = await startBroker({
      sysInterval: 0,
      hooks: {
        // A host deciding by what the client declares: only the 'ops' team may watch alarms.
        authorizeSubscribe: (_client, subscription, userProperties) => {
          seen.push(userProperties)
          return !subscription.filter.startsWith('alarms/') || userProperties?.team === 'ops'
        },
      },
    })
    const events = recordEvents(b.broker)
    const ops = await connectV5(b.url, { clientId: 'ops-console' })
    const granted = await ops.client.subscribeAsync('alarms/#', { qos: 1, properties: { userProperties: { team: 'ops', tag: ['a', 'b'] } } })
    expect(granted.map((g) => g.qos)).toEqual([1])
    const guest = await connectV5(b.url, { clientId: 'guest' })
    const refused = await guest.client
      .subscribeAsync('alarms/#', { qos: 1, properties: { userProperties: { team: 'guests' } } })
      .catch((error: { packet: { granted: number[] } }) => error.packet.granted)
    expect(refused).toEqual([ReasonCode.NotAuthorized])
    expect(seen).toEqual([{ team: 'ops', tag: ['a', 'b'] }, { team: 'guests' }])

    const subscribed = await events.subscribed.next((e) => e.client.id === 'ops-console')
    expect(subscribed.userProperties).toEqual({ team: 'ops', tag: ['a', 'b'] })
    await ops.client.unsubscribeAsync('alarms/#', { properties: { userProperties: { why: 'shift over' } } })
    expect((await events.unsubscribed.next((e) => e.client.id === 'ops-console')).userProperties).toEqual({ why: 'shift over' })
    await new Promise<void>((resolve) => ops.client.end(false, { reasonCode: 0, properties: { userProperties: { bye: 'now' } } }, () => resolve()))
    const gone = await events.disconnected.next((e) => e.client.id === 'ops-console')
    expect(gone).toMatchObject({ reason: 'disconnect', userProperties: { bye: 'now' } })

    const v3 = await connectClient(b.url, { clientId: 'v3-client' })
    await v3.client.subscribeAsync('plain/#', { qos: 0 })
    expect((await events.subscribed.next((e) => e.client.id === 'v3-client')).userProperties).toBeUndefined()
    expect(seen.at(-1)).toBeUndefined()
    await v3.client.endAsync()
    expect((await events.disconnected.next((e) => e.client.id === 'v3-client')).userProperties).toBeUndefined()
    await guest.client.endAsync()
    expect((await events.disconnected.next((e) => e.client.id === 'guest')).userProperties).toBeUndefined()
  })
})
