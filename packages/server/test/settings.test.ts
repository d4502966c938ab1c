import { existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import { createConnection } from 'node:net'
import { connect, connectAsync, type IConnackPacket, type MqttClient } from 'mqtt'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../persistence-redis/test/redis-server.js'
import { SETTINGS } from '../src/settings.js'
import { makeCertificates } from './helpers/certificates.js'
import { runWren, startWren, type WrenProcess } from './helpers/wren-process.js'

let dir: string
const running: WrenProcess[] = []
const clients: MqttClient[] = []

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wren-settings-'))
})
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.endAsync(true)))
  await Promise.all(running.splice(0).map((wren) => wren.stop()))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function wren(args: string[]): Promise<WrenProcess> {
  const started = await startWren(args)
  running.push(started)
  return started
}

async function client(url: string, options: Parameters<typeof connectAsync>[1] = {}): Promise<MqttClient> {
  const connected = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options })
  clients.push(connected)
  return connected
}

const version = (): string => (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version
const serverDoc = readFileSync(new URL('../../../docs/server.md', import.meta.url), 'utf8')

describe('the settings table', () => {
  it('gives every setting with a flag a line of --help and a row in docs/server.md', async () => {
    const { stdout } = await runWren(['--help'])
    const missing: string[] = []
    for (const [key, setting] of Object.entries(SETTINGS)) {
      if ('flag' in setting && setting.flag !== undefined && !stdout.includes(`--${setting.flag}`)) missing.push(`--help: --${setting.flag}`)
      if (!serverDoc.includes(`\`${key}\``)) missing.push(`docs/server.md: ${key}`)
    }
    expect(missing).toEqual([])
  })

  it('takes the arguments after pnpm start --', async () => {
    const { code, stdout } = await runWren(['--', '--version'])
    expect(code).toBe(0)
    expect(stdout).toMatch(/^\d+\.\d+\.\d+\n$/)
  })

  it('names the flag and the range the broker accepts', async () => {
    expect((await runWren(['--max-qos', '3'])).stderr).toBe('wren: --max-qos must be an integer from 0 to 2, got 3\n')
    const policy = await runWren(['--queue-full-policy', 'drop-all'])
    expect(policy).toMatchObject({ code: 2, stderr: 'wren: --queue-full-policy must be one of "drop-new", "drop-old", got "drop-all"\n' })
    expect((await runWren(['--retain-available', 'maybe'])).stderr).toBe('wren: --retain-available must be true or false, got "maybe"\n')
  })

  it('passes the MQTT 5 settings to the broker, which announces them in CONNACK', async () => {
    const args = ['--no-ws', '--max-qos', '1', '--retain-available', 'false', '--receive-maximum', '10']
    args.push('--topic-alias-maximum', '3', '--max-keepalive', '30', '--max-topic-levels', '4')
    const server = await wren(args)
    const connecting = connect(server.urls.tcp!, { protocolVersion: 5, keepalive: 600, reconnectPeriod: 0 })
    clients.push(connecting)
    const connack = await new Promise<IConnackPacket>((resolve) => connecting.once('connect', resolve))
    expect(connack.properties).toMatchObject({
      maximumQoS: 1,
      retainAvailable: false,
      receiveMaximum: 10,
      topicAliasMaximum: 3,
      serverKeepAlive: 30,
    })
    expect(await connecting.subscribeAsync('a/b/c/d', { qos: 2 })).toMatchObject([{ topic: 'a/b/c/d', qos: 1 }])
    const tooDeep = await connecting.subscribeAsync('a/b/c/d/e', { qos: 1 }).catch((error: { packet: { granted: number[] } }) => error.packet.granted)
    expect(tooDeep).toEqual([0x8f])
  })
})

describe('listeners in the config file', () => {
  it('opens each listener with its own host, port, protocol, path and connection limit, next to the shortcuts', async () => {
    const [mqttPort, wsPort] = [await freePort(), await freePort()]
    const file = join(dir, 'listeners.json')
    await writeFile(file, JSON.stringify({
      listeners: [
        { protocol: 'mqtt', host: '127.0.0.1', port: mqttPort, maxConnections: 1 },
        { protocol: 'ws', host: '127.0.0.1', port: wsPort, path: '/devices' },
      ],
    }))
    const server = await wren(['--config', file, '--no-ws'])
    const urls = server.logs.filter((line) => line.msg.startsWith('listening on ')).map((line) => line.url)
    expect(urls).toEqual([expect.stringMatching(/^mqtt:\/\/127\.0\.0\.1:\d+$/), `mqtt://127.0.0.1:${mqttPort}`, `ws://127.0.0.1:${wsPort}/devices`])
    expect(urls[0]).not.toBe(`mqtt://127.0.0.1:${mqttPort}`)

    const viaWs = await client(`ws://127.0.0.1:${wsPort}/devices`)
    const viaMqtt = await client(`mqtt://127.0.0.1:${mqttPort}`)
    await viaWs.subscribeAsync('x', { qos: 1 })
    const received = new Promise<string>((resolve) => viaWs.once('message', (_topic, payload) => resolve(payload.toString())))
    await viaMqtt.publishAsync('x', 'across listeners', { qos: 1 })
    expect(await received).toBe('across listeners')

    const second = createConnection(mqttPort, '127.0.0.1')
    await once(second, 'close')
    expect(viaMqtt.connected).toBe(true)
  })

  it('turns the shortcut listeners off unless a flag asks for them', async () => {
    const port = await freePort()
    const file = join(dir, 'only-listeners.json')
    await writeFile(file, JSON.stringify({ host: '127.0.0.1', listeners: [{ protocol: 'mqtt', port }] }))
    const server = await startWren(['--config', file], { shortcuts: false })
    running.push(server)
    expect(server.logs.filter((line) => line.msg.startsWith('listening on ')).map((line) => line.url)).toEqual([`mqtt://127.0.0.1:${port}`])
  })

  it('lets a listener have its own password file: the others keep the top-level rules', async () => {
    const [open, guarded] = [await freePort(), await freePort()]
    const passwd = join(dir, 'listener-passwd')
    expect((await runWren(['passwd', passwd, 'alice', 'alice-password'])).code).toBe(0)
    const file = join(dir, 'listener-auth.json')
    await writeFile(file, JSON.stringify({
      host: '127.0.0.1',
      listeners: [{ protocol: 'mqtt', port: open }, { protocol: 'mqtt', port: guarded, passwordFile: passwd }],
    }))
    const server = await startWren(['--config', file], { shortcuts: false })
    running.push(server)
    expect(await server.waitForStderr(/clients: .*\n/)).toContain(`; on listeners[1] only users of ${passwd}\n`)

    expect((await client(`mqtt://127.0.0.1:${open}`)).connected).toBe(true)
    await expect(client(`mqtt://127.0.0.1:${guarded}`)).rejects.toMatchObject({ code: 5 })
    await expect(client(`mqtt://127.0.0.1:${guarded}`, { username: 'alice', password: 'wrong' })).rejects.toMatchObject({ code: 4 })
    expect((await client(`mqtt://127.0.0.1:${guarded}`, { username: 'alice', password: 'alice-password' })).connected).toBe(true)
  })

  it('names the entry and key of a bad listener', async () => {
    const file = join(dir, 'bad-listener.json')
    await writeFile(file, JSON.stringify({ listeners: [{ protocol: 'mqtt', port: 1 }, { protocol: 'mqttsn', port: 2 }] }))
    expect((await runWren(['--config', file])).stderr).toBe(
      `wren: "listeners" in ${file}[1].protocol must be one of "mqtt", "mqtts", "ws", "wss", got "mqttsn"\n`,
    )
    await writeFile(file, JSON.stringify({ listeners: [{ protocol: 'mqtts', port: 0 }] }))
    expect((await runWren(['--config', file])).stderr).toBe('wren: listeners[0] (mqtts) needs cert and key, its own or the top-level ones\n')
  })
})

describe('start-up', () => {
  it('says where it listens, which store it uses and whether clients are anonymous', async () => {
    const server = await wren(['--no-ws', '--persistence', `sqlite:${join(dir, 'summary', 'wren.db')}`])
    const summary = await server.waitForStderr(/clients: .*\n/)
    expect(summary).toBe([
      `wren ${version()} is up`,
      `  listening on ${server.urls.tcp}`,
      `  store: SQLite file ${join(dir, 'summary', 'wren.db')}`,
      '  clients: anonymous clients are allowed and may publish and subscribe to anything (--password-file to require a login)',
      '',
    ].join('\n'))
  })

  it('creates the folder of the SQLite file: the example wren.json of docs/server.md works as written', async () => {
    const example = /An example `wren.json`:\n\n```json\n([\s\S]*?)```/.exec(serverDoc)![1]!
    const home = join(dir, 'example')
    await mkdir(join(home, 'tls'), { recursive: true })
    const certs = makeCertificates(join(home, 'tls'))
    expect([certs.serverCert, certs.serverKey, certs.ca].map((file) => file.slice(home.length))).toEqual(['/tls/server.pem', '/tls/server.key', '/tls/ca.pem'])
    await writeFile(join(home, 'wren.json'), example)
    await writeFile(join(home, 'acl'), 'topic readwrite public/#\n')
    expect((await runWren(['passwd', join(home, 'passwd'), 'alice', 'alice-password'])).code).toBe(0)
    const server = await wren(['--config', join(home, 'wren.json'), '--tls-port', '0', '--wss-port', '0', '--log-level', 'info'])
    expect(existsSync(join(home, 'data', 'wren.db'))).toBe(true)
    expect(Object.keys(server.urls).sort()).toEqual(['tcp', 'tls', 'ws', 'wss'])
    const summary = await server.waitForStderr(/clients: .*\n/)
    expect(summary).toContain(`store: SQLite file ${join(home, 'data', 'wren.db')}`)
    expect(summary).toContain(`clients: only users of ${join(home, 'passwd')} (anonymous clients are refused)`)
    const alice = await client(server.urls.tcp!, { username: 'alice', password: 'alice-password' })
    expect(alice.connected).toBe(true)
  })

  it('names the Redis it cannot reach in one line, without the client library\'s noise', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`
    const { code, stderr } = await runWren(['--host', '127.0.0.1', '--port', '0', '--no-ws', '--persistence', url])
    expect({ code, stderr }).toEqual({ code: 1, stderr: `wren: cannot reach Redis at ${url} (persistence): connection refused (is redis-server running?)\n` })
  })
})
