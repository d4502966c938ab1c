import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { connect, type IClientOptions, type MqttClient } from 'mqtt'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createBroker } from '@wren/core'
import { createFileAuth, setPassword } from '../src/index.js'

// End to end over loopback TCP: the file hooks in a real broker, real MQTT.js and Mosquitto clients.

const dir = mkdtempSync(join(tmpdir(), 'wren-auth-broker-'))
const passwordFile = join(dir, 'passwd')
const aclFile = join(dir, 'acl')

const ACL = `user alice
topic read #
topic deny secret/#

user admin
topic readwrite #

pattern readwrite devices/%c/#
`

let broker: ReturnType<typeof createBroker>
let server: net.Server
let url = ''
let port = 0
const clients: MqttClient[] = []

beforeAll(async () => {
  await setPassword(passwordFile, 'alice', 'alice-pw')
  await setPassword(passwordFile, 'admin', 'admin-pw')
  writeFileSync(aclFile, ACL)
  broker = createBroker({ hooks: createFileAuth({ passwordFile, aclFile }).hooks })
  await broker.ready()
  server = net.createServer((socket) => broker.handle(socket, { transport: 'tcp' }))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as net.AddressInfo).port
  url = `mqtt://127.0.0.1:${port}`
})

afterEach(() => {
  for (const client of clients.splice(0)) client.end(true)
})

afterAll(async () => {
  await broker.close()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  rmSync(dir, { recursive: true, force: true })
})

let ids = 0
function open(options: IClientOptions): MqttClient {
  const client = connect(url, { clientId: `auth-e2e-${++ids}`, reconnectPeriod: 0, connectTimeout: 5000, ...options })
  clients.push(client)
  return client
}

function connected(options: IClientOptions): Promise<MqttClient> {
  const client = open(options)
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client))
    client.once('error', reject)
  })
}

/** The CONNACK code of a refused connection (MQTT.js reports it as the error's `code`). */
function refusal(options: IClientOptions): Promise<number | undefined> {
  const client = open(options)
  return new Promise((resolve, reject) => {
    client.once('connect', () => reject(new Error('connection was accepted')))
    client.once('error', (error) => resolve((error as Error & { code?: number }).code))
  })
}

describe('file auth in a broker', () => {
  it('refuses bad credentials: 0x86 / 0x87 on MQTT 5, 4 / 5 on MQTT 3.1.1', async () => {
    expect(await refusal({ protocolVersion: 5, username: 'alice', password: 'wrong' })).toBe(0x86)
    expect(await refusal({ protocolVersion: 5, username: 'mallory', password: 'alice-pw' })).toBe(0x86)
    expect(await refusal({ protocolVersion: 5 })).toBe(0x87)
    expect(await refusal({ protocolVersion: 4, username: 'alice', password: 'wrong' })).toBe(4)
    expect(await refusal({ protocolVersion: 4 })).toBe(5)
  })

  it('delivers nothing from # that the subscriber may not read', async () => {
    const alice = await connected({ protocolVersion: 5, username: 'alice', password: 'alice-pw' })
    const admin = await connected({ protocolVersion: 5, username: 'admin', password: 'admin-pw' })
    const received: string[] = []
    alice.on('message', (topic) => received.push(topic))
    const granted = await alice.subscribeAsync('#', { qos: 1 })
    expect(granted[0]?.qos).toBe(1)
    const last = new Promise<void>((resolve) => alice.on('message', (topic) => topic === 'done' && resolve()))
    for (const topic of ['news/1', 'secret/plans', 'secret', 'news/2', 'secret/a/b', 'done']) {
      await admin.publishAsync(topic, 'x', { qos: 1 })
    }
    await last
    expect(received).toEqual(['news/1', 'news/2', 'done'])
  })

  it('refuses a subscription the ACL denies with 0x87, and drops a publish it denies', async () => {
    const alice = await connected({ protocolVersion: 5, username: 'alice', password: 'alice-pw' })
    await expect(alice.subscribeAsync('secret/#', { qos: 1 })).rejects.toMatchObject({ packet: { granted: [0x87] } })

    const admin = await connected({ protocolVersion: 5, username: 'admin', password: 'admin-pw' })
    const seen: string[] = []
    admin.on('message', (topic) => seen.push(topic))
    const real = new Promise<void>((resolve) => admin.on('message', (topic) => topic === 'news/real' && resolve()))
    await admin.subscribeAsync('news/#', { qos: 1 })
    // alice may read news/# but not write it; her own device namespace is hers to write.
    await expect(alice.publishAsync('news/forged', 'x', { qos: 1 })).rejects.toMatchObject({ code: 0x87 })
    await alice.publishAsync(`devices/${alice.options.clientId}/up`, 'x', { qos: 1 })
    await admin.publishAsync('news/real', 'x', { qos: 1 })
    await real
    expect(seen).toEqual(['news/real'])
  })

  it('works with Mosquitto’s own clients', async () => {
    const run = promisify(execFile)
    const args = ['-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv5']
    const subscribed = once(broker, 'subscribed')
    const subscriber = run('mosquitto_sub', [...args, '-u', 'alice', '-P', 'alice-pw', '-t', '#', '-v', '-C', '2', '-W', '10'])
    await subscribed
    const admin = ['-u', 'admin', '-P', 'admin-pw']
    await run('mosquitto_pub', [...args, ...admin, '-t', 'secret/x', '-m', 'hidden'])
    await run('mosquitto_pub', [...args, ...admin, '-t', 'news/1', '-m', 'shown'])
    await run('mosquitto_pub', [...args, ...admin, '-t', 'news/2', '-m', 'shown'])
    const { stdout } = await subscriber
    expect(stdout).not.toContain('secret')
    expect(stdout.trim().split('\n')).toHaveLength(2)
    await expect(run('mosquitto_pub', [...args, '-u', 'alice', '-P', 'nope', '-t', 'a', '-m', 'x'])).rejects.toThrow()
  })
})
