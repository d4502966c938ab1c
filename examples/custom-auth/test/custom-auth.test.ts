import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { start } from '../index.js'
import { signToken } from '../jwt.js'
import { assertBuilt } from '../../../packages/core/test/helpers/built.js'

const secret = Buffer.from('a test secret of thirty-two bytes')
let app: Awaited<ReturnType<typeof start>>
const clients: MqttClient[] = []

beforeAll(async () => {
  app = await start({ httpPort: 0, mqttPort: 0, secret })
})
afterAll(async () => {
  await Promise.all(clients.map((client) => client.endAsync(true)))
  await app?.close()
})

const http = (path: string, init?: RequestInit): Promise<Response> => fetch(`http://127.0.0.1:${app.httpPort}${path}`, init)

async function login(username: string, password: string): Promise<Response> {
  return http('/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) })
}

async function tokenOf(username: string, password: string): Promise<string> {
  const response = await login(username, password)
  expect(response.status).toBe(200)
  return ((await response.json()) as { token: string }).token
}

async function mqtt(options: IClientOptions): Promise<MqttClient> {
  const connected = await connectAsync(`mqtt://127.0.0.1:${app.mqttPort}`, { reconnectPeriod: 0, connectTimeout: 5000, ...options })
  clients.push(connected)
  return connected
}

async function refusal(options: IClientOptions): Promise<number | undefined> {
  try {
    await mqtt(options)
  } catch (error) {
    return (error as { code?: number }).code
  }
  throw new Error('the connection was accepted')
}

/** The SUBACK codes for one filter; MQTT.js rejects when one is a failure and carries the packet. */
async function granted(subscriber: MqttClient, filter: string): Promise<number[]> {
  try {
    return (await subscriber.subscribeAsync(filter, { qos: 1 })).map((grant) => grant.qos)
  } catch (error) {
    return (error as { packet: { granted: number[] } }).packet.granted
  }
}

describe('custom-auth example', () => {
  it('issues a token for the right password and accepts it on GET /me', async () => {
    expect((await login('alice', 'wrong')).status).toBe(401)
    expect((await login('mallory', 'alice-password')).status).toBe(401)
    const token = await tokenOf('alice', 'alice-password')
    const me = await http('/me', { headers: { authorization: `Bearer ${token}` } })
    expect(me.status).toBe(200)
    expect(await me.json()).toMatchObject({ id: 'alice', mqttTopics: 'users/alice/#' })
    expect((await http('/me')).status).toBe(401)
    expect((await http('/me', { headers: { authorization: `Bearer ${token}x` } })).status).toBe(401)
  })

  it('lets a user connect over MQTT with the token, publish and subscribe in users/<id>/ and nowhere else', async () => {
    const alice = await mqtt({ protocolVersion: 5, username: 'alice', password: await tokenOf('alice', 'alice-password') })
    const bob = await mqtt({ username: 'bob', password: await tokenOf('bob', 'bob-password') })
    await bob.subscribeAsync('users/bob/#', { qos: 1 })
    const bobInbox: string[] = []
    bob.on('message', (topic, payload) => bobInbox.push(`${topic} ${payload}`))

    expect(await granted(alice, 'users/alice/#')).toEqual([1])
    const received = new Promise<string>((resolve) => alice.once('message', (topic, payload) => resolve(`${topic} ${payload}`)))
    await alice.publishAsync('users/alice/notes', 'mine', { qos: 1 })
    expect(await received).toBe('users/alice/notes mine')

    await expect(alice.publishAsync('users/bob/inbox', 'not mine', { qos: 1 })).rejects.toMatchObject({ code: 0x87 })
    expect(await granted(alice, 'users/bob/#')).toEqual([0x87])
    expect(await granted(alice, 'users/+/notes')).toEqual([0x87])
    expect(await granted(alice, '#')).toEqual([0x87])
    expect(await granted(bob, 'users/alice/#')).toEqual([0x80])
    await bob.publishAsync('users/bob/self', 'hello', { qos: 1 })
    await expect.poll(() => bobInbox).toEqual(['users/bob/self hello'])
  })

  it('refuses a bad, borrowed, forged or expired token, and a missing one', async () => {
    const aliceToken = await tokenOf('alice', 'alice-password')
    const now = Math.floor(Date.now() / 1000)
    const expired = signToken(secret, { sub: 'alice', iat: now - 7200, exp: now - 3600 })
    const forged = signToken(Buffer.from('some other secret'), { sub: 'alice', iat: now, exp: now + 3600 })
    const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'alice', exp: now + 3600 })).toString('base64url')}.`

    for (const password of ['garbage', expired, forged, unsigned]) {
      expect(await refusal({ protocolVersion: 5, username: 'alice', password })).toBe(0x86)
      expect(await refusal({ username: 'alice', password })).toBe(4)
    }
    expect(await refusal({ protocolVersion: 5, username: 'bob', password: aliceToken })).toBe(0x86)
    expect(await refusal({ protocolVersion: 5 })).toBe(0x87)
    expect(await refusal({})).toBe(5)
    const me = await http('/me', { headers: { authorization: `Bearer ${expired}` } })
    expect(me.status).toBe(401)
  })

  it('runs as a process on the ports of HTTP_PORT and MQTT_PORT, and exits 0 on SIGTERM', async () => {
    // As a process, the example imports the packages as a user would, from their builds.
    assertBuilt('core')
    const child = spawn(process.execPath, [fileURLToPath(new URL('../index.js', import.meta.url))], {
      env: { ...process.env, HTTP_PORT: '0', MQTT_PORT: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const exited = once(child, 'exit')
    const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string]
    const [, httpPort, mqttPort] = /on :(\d+) \(POST \/login, GET \/me\), MQTT over TCP on :(\d+)/.exec(line)!
    const login = await fetch(`http://127.0.0.1:${httpPort}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'bob', password: 'bob-password' }),
    })
    const { token } = (await login.json()) as { token: string }
    const bob = await connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { reconnectPeriod: 0, username: 'bob', password: token })
    const closedByServer = once(bob, 'close')
    child.kill('SIGTERM')
    expect(await exited).toEqual([0, null])
    await closedByServer
    await bob.endAsync(true)
  })
})

