import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { connect, type MqttClient } from 'mqtt'
import { describe, expect, it } from 'vitest'
import { ReasonCode, type ClientInfo, type Hooks, type Logger } from '../src/index.js'
import { attach, connectClient, RawClient, refusal, uniqueId } from './helpers/clients.js'
import { recordEvents } from './helpers/events.js'
import { startBroker } from './helpers/start-broker.js'

// The hook examples of docs/auth.md are the regions marked below, copied there verbatim: this file runs each
// against a real broker over TCP, and the first test fails when the page and this file drift apart.

// #region docs:preConnect
/** At most `perMinute` connection attempts per remote address and minute; over it, 0x9F. */
function connectionRateLimit(perMinute: number): Hooks['preConnect'] {
  const attempts = new Map<string, number>()
  setInterval(() => attempts.clear(), 60_000).unref()
  return (client) => {
    const address = client.meta.remoteAddress ?? 'unknown'
    const count = (attempts.get(address) ?? 0) + 1
    attempts.set(address, count)
    return count > perMinute ? { ok: false, reasonCode: ReasonCode.ConnectionRateExceeded } : undefined
  }
}

/** A client may only leave a will under `clients/<its id>/`: refused before its password is even checked. */
const willUnderOwnTopic: Hooks['preConnect'] = (_client, request) => {
  if (request.will && !request.will.topic.startsWith(`clients/${request.clientId}/`)) return false
  return undefined
}
// #endregion

// #region docs:authenticate
interface UserStore {
  /** Resolves the user's tenant and role when the password is right, undefined otherwise. */
  check(username: string, password: Buffer): Promise<{ tenant: string; role: string } | undefined>
}

function storeAuth(store: UserStore): Hooks['authenticate'] {
  return async (_client, { username, password }) => {
    if (username === undefined || password === undefined) return { ok: false, reasonCode: ReasonCode.NotAuthorized }
    const user = await store.check(username, password)
    if (!user) return { ok: false, reasonCode: ReasonCode.BadUserNameOrPassword }
    // Later hooks read these from client.data.
    return { ok: true, data: { tenant: user.tenant, role: user.role } }
  }
}
// #endregion

// #region docs:authorizePublish
/** Each tenant publishes into its own subtree: `a/b` from a client of tenant `acme` is routed as `tenants/acme/a/b`. */
const tenantPublish: Hooks['authorizePublish'] = (client, message) => {
  const tenant = client.data.tenant
  if (typeof tenant !== 'string') return { ok: false, reasonCode: ReasonCode.NotAuthorized }
  // A new object: the message must not be changed in place.
  return { ok: true, message: { ...message, topic: `tenants/${tenant}/${message.topic}` } }
}
// #endregion

// #region docs:authorizeSubscribe
/** Subscriptions only inside the client's tenant subtree, granted at QoS 1 at most. */
const tenantSubscribe: Hooks['authorizeSubscribe'] = (client, subscription) => {
  const tenant = client.data.tenant
  if (typeof tenant !== 'string' || !subscription.filter.startsWith(`tenants/${tenant}/`)) return false
  if (subscription.qos === 2) return { ok: true, subscription: { ...subscription, qos: 1 } }
  return undefined
}

/** Alarm filters only for staff who ask for the operators' view (MQTT 5 User Property `view` on the SUBSCRIBE). */
const alarmsForOperators: Hooks['authorizeSubscribe'] = (client, subscription, userProperties) =>
  !subscription.filter.startsWith('alarms/') || (client.data.role === 'staff' && userProperties?.view === 'operations')
// #endregion

// #region docs:authorizeForward
/** Guests never receive `.../internal/...`, and see locations redacted. Synchronous: it runs once per delivery. */
const guestForward: Hooks['authorizeForward'] = (client, message) => {
  if (client.data.role !== 'guest') return undefined
  if (message.topic.includes('/internal/')) return false
  if (message.topic.endsWith('/location')) return { ...message, payload: Buffer.from('redacted') }
  return undefined
}
// #endregion

// #region docs:published
/** An audit trail of what clients publish (the host's messages, wills and $SYS updates have client null). */
function auditTrail(write: (line: string) => Promise<void>): Hooks['published'] {
  return async (message, client) => {
    if (client === null) return
    await write(JSON.stringify({ client: client.id, user: client.username, topic: message.topic, bytes: message.payload.length }))
  }
}
// #endregion

// #region docs:authenticateExchange
/**
 * MQTT 5 enhanced authentication with the method `X-HMAC-CHALLENGE`: the broker sends a random nonce and the
 * client proves it holds its secret by answering HMAC-SHA256(secret, nonce). No secret crosses the wire.
 */
function hmacChallenge(secretOf: (clientId: string) => Buffer | undefined): Hooks['authenticateExchange'] {
  const nonces = new WeakMap<ClientInfo, Buffer>()
  return (client, exchange) => {
    if (exchange.method !== 'X-HMAC-CHALLENGE') return undefined // another hook's method
    const secret = secretOf(client.id)
    if (secret === undefined) return { ok: false, reasonCode: ReasonCode.NotAuthorized }
    if (exchange.step === 0) {
      const nonce = randomBytes(32)
      nonces.set(client, nonce)
      return { ok: 'continue', data: nonce } // AUTH 0x18 carrying the nonce
    }
    const nonce = nonces.get(client)
    nonces.delete(client)
    const expected = nonce === undefined ? undefined : createHmac('sha256', secret).update(nonce).digest()
    const answer = exchange.data
    if (!expected || !answer || answer.length !== expected.length || !timingSafeEqual(answer, expected)) {
      return { ok: false, reasonCode: ReasonCode.NotAuthorized }
    }
    return { ok: true, clientData: { authMethod: exchange.method } } // CONNACK 0x00 (AUTH 0x00 on re-authentication)
  }
}
// #endregion

// #region docs:aedesPort
/** Alice gets in; she publishes and subscribes only under `users/alice/`. Ported from the Aedes handlers above. */
const aliceOnly: Hooks['authenticate'] = (_client, { username, password }) =>
  username === 'alice' && password?.toString() === 'secret' ? { ok: true, data: { user: username } } : false

const ownTopicsOnly: Hooks['authorizePublish'] = (client, message) => (message.topic.split('/')[1] === client.data.user ? undefined : false)

const ownFiltersOnly: Hooks['authorizeSubscribe'] = (client, subscription) =>
  subscription.filter.split('/')[1] === client.data.user ? undefined : false
// #endregion

// #region docs:authenticateExchangeClient
function connectWithChallenge(url: string, clientId: string, secret: Buffer): MqttClient {
  const client = connect(url, { protocolVersion: 5, clientId, properties: { authenticationMethod: 'X-HMAC-CHALLENGE' } })
  client.handleAuth = (packet, callback) => {
    const nonce = packet.properties?.authenticationData ?? Buffer.alloc(0)
    const proof = createHmac('sha256', secret).update(nonce).digest()
    callback(undefined, { cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'X-HMAC-CHALLENGE', authenticationData: proof } })
  }
  return client
}
// #endregion

const users = new Map([
  ['alice', { password: 'wonderland', tenant: 'acme', role: 'staff' }],
  ['gus', { password: 'guest-pass', tenant: 'acme', role: 'guest' }],
])
const userStore: UserStore = {
  check: async (username, password) => {
    const user = users.get(username)
    return user && user.password === password.toString() ? { tenant: user.tenant, role: user.role } : undefined
  },
}


function capturingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = []
  return { warnings, debug: () => {}, info: () => {}, error: () => {}, warn: (_obj, msg) => warnings.push(msg ?? '') }
}

describe('docs/auth.md hook examples', () => {
  it('are on the page exactly as they are tested here', () => {
    const doc = readFileSync(new URL('../../../docs/auth.md', import.meta.url), 'utf8')
    const source = readFileSync(new URL(import.meta.url), 'utf8')
    const regions = [...source.matchAll(/\/\/ #region docs:(\w+)\n([\s\S]*?)\/\/ #endregion\n/g)]
    expect(regions.map((r) => r[1])).toEqual([
      'preConnect',
      'authenticate',
      'authorizePublish',
      'authorizeSubscribe',
      'authorizeForward',
      'published',
      'authenticateExchange',
      'aedesPort',
      'authenticateExchangeClient',
    ])
    for (const [, name, code] of regions) expect(doc.includes(`\`\`\`ts\n${code}\`\`\``), `docs/auth.md shows the ${name} example`).toBe(true)
  })

  it('preConnect: a rate limit per address (3.1.1 gets 3, MQTT 5 gets 0x9F) and a will check (5 / 0x87)', async () => {
    const b = await startBroker({ sysInterval: 0, hooks: { preConnect: [connectionRateLimit(2), willUnderOwnTopic] } })
    await connectClient(b.url)
    await connectClient(b.url)
    expect(await refusal(connectClient(b.url))).toBe(3)
    expect(await refusal(connectClient(b.url, { protocolVersion: 5 }))).toBe(0x9f)

    const w = await startBroker({ sysInterval: 0, hooks: { preConnect: [connectionRateLimit(100), willUnderOwnTopic] } })
    const clientId = uniqueId('will')
    await connectClient(w.url, { clientId, will: { topic: `clients/${clientId}/status`, payload: Buffer.from('gone'), qos: 0, retain: false } })
    const elsewhere = { topic: 'alerts/all', payload: Buffer.from('spoof'), qos: 0 as const, retain: false }
    expect(await refusal(connectClient(w.url, { will: elsewhere }))).toBe(5)
    expect(await refusal(connectClient(w.url, { protocolVersion: 5, will: elsewhere }))).toBe(0x87)
  })

  it('authenticate: attaches tenant and role; refuses a wrong password (4 / 0x86) and a missing user name (5 / 0x87)', async () => {
    const b = await startBroker({ sysInterval: 0, hooks: { authenticate: storeAuth(userStore) } })
    const events = recordEvents(b.broker)
    await connectClient(b.url, { username: 'alice', password: 'wonderland' })
    const connected = await events.connected.next()
    expect(connected.data).toEqual({ tenant: 'acme', role: 'staff' })
    expect(b.broker.clients().map((c) => c.data.tenant)).toEqual(['acme'])

    expect(await refusal(connectClient(b.url, { username: 'alice', password: 'nope' }))).toBe(4)
    expect(await refusal(connectClient(b.url, { protocolVersion: 5, username: 'alice', password: 'nope' }))).toBe(0x86)
    expect(await refusal(connectClient(b.url))).toBe(5)
    expect(await refusal(connectClient(b.url, { protocolVersion: 5 }))).toBe(0x87)
  })

  it('a hook that throws denies, and is logged', async () => {
    const logger = capturingLogger()
    const failing = (): never => {
      throw new Error('user database unreachable')
    }
    const b = await startBroker({ sysInterval: 0, logger, hooks: { authenticate: failing } })
    expect(await refusal(connectClient(b.url, { username: 'alice', password: 'wonderland' }))).toBe(4)
    expect(await refusal(connectClient(b.url, { protocolVersion: 5, username: 'alice', password: 'wonderland' }))).toBe(0x86)
    expect(logger.warnings).toContain('authenticate hook failed: connection refused')

    const p = await startBroker({ sysInterval: 0, logger, hooks: { authorizePublish: async () => Promise.reject(new Error('policy service down')) } })
    const v5 = await connectClient(p.url, { protocolVersion: 5 })
    await expect(v5.client.publishAsync('a/b', 'x', { qos: 1 })).rejects.toMatchObject({ code: 0x87 })
    expect(logger.warnings).toContain('authorizePublish failed: message denied')
  })

  it('authorizePublish: rewrites the topic into the tenant subtree; denies without a tenant (3.1.1: dropped, MQTT 5: 0x87)', async () => {
    const b = await startBroker({ sysInterval: 0, hooks: { authenticate: storeAuth(userStore), authorizePublish: tenantPublish } })
    const sub = await connectClient(b.url, { username: 'alice', password: 'wonderland' })
    await sub.client.subscribeAsync('#', { qos: 1 })
    const pub = await connectClient(b.url, { username: 'alice', password: 'wonderland' })
    await pub.client.publishAsync('a/b', 'hello', { qos: 1 })
    const message = await sub.inbox.next()
    expect([message.topic, message.payload.toString()]).toEqual(['tenants/acme/a/b', 'hello'])

    const open = await startBroker({ sysInterval: 0, hooks: { authorizePublish: tenantPublish } })
    const watcher = await connectClient(open.url)
    await watcher.client.subscribeAsync('#', { qos: 1 })
    const v3 = await connectClient(open.url)
    await v3.client.publishAsync('a/b', 'dropped', { qos: 1 })
    const v5 = await connectClient(open.url, { protocolVersion: 5 })
    await expect(v5.client.publishAsync('a/b', 'refused', { qos: 1 })).rejects.toMatchObject({ code: 0x87 })
    await watcher.inbox.expectNone(200)
  })

  it('ported Aedes hooks: alice only, her own topics only (a wrong password 4, a foreign filter 0x80, a foreign topic not routed)', async () => {
    const b = await startBroker({ sysInterval: 0, hooks: { authenticate: aliceOnly, authorizePublish: ownTopicsOnly, authorizeSubscribe: ownFiltersOnly } })
    expect(await refusal(connectClient(b.url, { username: 'alice', password: 'guess' }))).toBe(4)
    expect(await refusal(connectClient(b.url, { username: 'bob', password: 'secret' }))).toBe(4)
    const { raw } = await RawClient.connect(b.port, { username: 'alice', password: Buffer.from('secret') })
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'users/alice/#', qos: 1 }, { topic: 'users/bob/#', qos: 1 }] })
    expect((await raw.next('suback')).granted).toEqual([1, 0x80])
    const watcher = await connectClient(b.url, { username: 'alice', password: 'secret' })
    await watcher.client.subscribeAsync('users/alice/#', { qos: 1 })
    const alice = await connectClient(b.url, { username: 'alice', password: 'secret' })
    // refused, but as in Aedes' 3.1.1 a normal PUBACK, and the connection stays (Aedes closes it)
    await alice.client.publishAsync('users/bob/inbox', 'not routed', { qos: 1 })
    await alice.client.publishAsync('users/alice/notes', 'routed', { qos: 1 })
    expect((await watcher.inbox.next()).topic).toBe('users/alice/notes')
    expect(watcher.inbox.received.map((m) => m.topic)).toEqual(['users/alice/notes'])
  })

  it('authorizeSubscribe: denies outside the tenant (3.1.1: 0x80, MQTT 5: 0x87) and downgrades QoS 2 to 1', async () => {
    const b = await startBroker({ sysInterval: 0, hooks: { authenticate: storeAuth(userStore), authorizeSubscribe: tenantSubscribe } })
    const credentials = { username: 'alice', password: Buffer.from('wonderland') }
    const { raw: v3 } = await RawClient.connect(b.port, credentials)
    v3.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'tenants/acme/#', qos: 2 }, { topic: 'tenants/other/#', qos: 1 }] })
    expect((await v3.next('suback')).granted).toEqual([1, 0x80])
    const v5 = await RawClient.open(b.port, 5)
    expect((await v5.handshake({ ...credentials, protocolVersion: 5 })).reasonCode).toBe(0)
    v5.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'tenants/acme/x', qos: 0 }, { topic: '#', qos: 0 }] })
    expect((await v5.next('suback')).granted).toEqual([0, 0x87])
  })

  it('authorizeSubscribe by User Properties: alarms only for staff asking for the operators\' view (MQTT 5 0x87 otherwise)', async () => {
    const b = await startBroker({ sysInterval: 0, hooks: { authenticate: storeAuth(userStore), authorizeSubscribe: alarmsForOperators } })
    const subscribe = async (username: string, password: string, userProperties: Record<string, string> | undefined): Promise<number[]> => {
      const raw = await RawClient.open(b.port, 5)
      expect((await raw.handshake({ username, password: Buffer.from(password), protocolVersion: 5 })).reasonCode).toBe(0)
      raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'alarms/#', qos: 1 }, { topic: 'site/#', qos: 1 }], ...(userProperties && { properties: { userProperties } }) })
      return (await raw.next('suback')).granted as number[]
    }
    expect(await subscribe('alice', 'wonderland', { view: 'operations' })).toEqual([1, 1])
    expect(await subscribe('alice', 'wonderland', undefined)).toEqual([0x87, 1])
    expect(await subscribe('gus', 'guest-pass', { view: 'operations' })).toEqual([0x87, 1])
  })

  it('authorizeForward: drops and redacts per subscriber, for live, retained and queued messages alike', async () => {
    const b = await startBroker({ sysInterval: 0, hooks: { authenticate: storeAuth(userStore), authorizeForward: guestForward } })
    await b.broker.publish({ topic: 'site/internal/door', payload: 'open', qos: 1, retain: true })
    const guestId = uniqueId('guest')
    const guestOptions = { clientId: guestId, clean: false, username: 'gus', password: 'guest-pass' }
    const guest = await connectClient(b.url, guestOptions)
    const staff = await connectClient(b.url, { username: 'alice', password: 'wonderland' })
    await guest.client.subscribeAsync('site/#', { qos: 1 })
    await staff.client.subscribeAsync('site/#', { qos: 1 })
    expect((await staff.inbox.next()).topic).toBe('site/internal/door')
    await guest.inbox.expectNone(200)

    await b.broker.publish({ topic: 'site/van/location', payload: '52.1,4.3', qos: 1 })
    await b.broker.publish({ topic: 'site/internal/alarm', payload: 'on', qos: 1 })
    expect((await guest.inbox.next()).payload.toString()).toBe('redacted')
    expect((await staff.inbox.take(2)).map((m) => m.payload.toString())).toEqual(['52.1,4.3', 'on'])
    await guest.inbox.expectNone(200)

    guest.client.end()
    await guest.closed
    await b.broker.publish({ topic: 'site/internal/alarm', payload: 'off', qos: 1 })
    await b.broker.publish({ topic: 'site/van/location', payload: '52.2,4.4', qos: 1 })
    const back = await connectClient(b.url, guestOptions)
    const queued = await back.inbox.next()
    expect([queued.topic, queued.payload.toString()]).toEqual(['site/van/location', 'redacted'])
    await back.inbox.expectNone(200)
  })

  it('published: audits what clients publish, after routing', async () => {
    const lines: string[] = []
    const b = await startBroker({ sysInterval: 0, hooks: { published: auditTrail(async (line) => void lines.push(line)) } })
    const pub = await connectClient(b.url, { clientId: 'auditee', username: 'alice' })
    await pub.client.publishAsync('a/b', 'xyz', { qos: 1 })
    await b.broker.publish({ topic: 'from/host', payload: 'ignored' })
    await expect.poll(() => lines).toEqual([JSON.stringify({ client: 'auditee', user: 'alice', topic: 'a/b', bytes: 3 })])
  })

  it('authenticateExchange: the HMAC challenge admits the right secret, refuses a wrong one (0x87) and an unknown method (0x8C)', async () => {
    const secrets = new Map([['sensor-7', Buffer.from('s3cret-of-sensor-7')]])
    const b = await startBroker({ sysInterval: 0, hooks: { authenticateExchange: hmacChallenge((id) => secrets.get(id)) } })
    const events = recordEvents(b.broker)
    const good = await attach(connectWithChallenge(b.url, 'sensor-7', Buffer.from('s3cret-of-sensor-7')))
    expect(good.connack.properties?.authenticationMethod).toBe('X-HMAC-CHALLENGE')
    expect((await events.connected.next()).data).toEqual({ authMethod: 'X-HMAC-CHALLENGE' })
    good.client.end()

    expect(await refusal(attach(connectWithChallenge(b.url, 'sensor-7', Buffer.from('guessed'))))).toBe(0x87)
    expect(await refusal(attach(connectWithChallenge(b.url, 'sensor-8', Buffer.from('no secret on file'))))).toBe(0x87)
    const otherMethod = connect(b.url, { protocolVersion: 5, reconnectPeriod: 0, properties: { authenticationMethod: 'SCRAM-SHA-256' } })
    expect(await refusal(attach(otherMethod))).toBe(0x8c)
  })

  it('authenticateExchange: re-authenticates an established connection (AUTH 0x19 ... AUTH 0x00)', async () => {
    const secret = Buffer.from('s3cret')
    const b = await startBroker({ sysInterval: 0, hooks: { authenticateExchange: hmacChallenge(() => secret) } })
    const raw = await RawClient.open(b.port, 5)
    const answer = (nonce: Buffer | undefined): Buffer => createHmac('sha256', secret).update(nonce ?? Buffer.alloc(0)).digest()
    const method = { authenticationMethod: 'X-HMAC-CHALLENGE' }
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: uniqueId('reauth'), clean: true, keepalive: 60, properties: method })
    const challenge = await raw.next('auth')
    expect(challenge.reasonCode).toBe(0x18)
    raw.send({ cmd: 'auth', reasonCode: 0x18, properties: { ...method, authenticationData: answer(challenge.properties?.authenticationData) } })
    expect((await raw.next('connack')).reasonCode).toBe(0)

    raw.send({ cmd: 'auth', reasonCode: 0x19, properties: method })
    const again = await raw.next('auth')
    expect(again.reasonCode).toBe(0x18)
    raw.send({ cmd: 'auth', reasonCode: 0x18, properties: { ...method, authenticationData: answer(again.properties?.authenticationData) } })
    expect((await raw.next('auth')).reasonCode).toBe(0)
  })
})
