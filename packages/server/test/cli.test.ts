import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createConnection } from 'node:net'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { runWren, startWren, type WrenProcess } from './helpers/wren-process.js'

let dir: string
const running: WrenProcess[] = []
const clients: MqttClient[] = []

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wren-cli-'))
})
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.endAsync(true)))
  await Promise.all(running.splice(0).map((wren) => wren.stop()))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function wren(args: string[] = []): Promise<WrenProcess> {
  const started = await startWren(args)
  running.push(started)
  return started
}

async function client(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const connected = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options })
  clients.push(connected)
  return connected
}

function nextMessage(subscriber: MqttClient): Promise<{ topic: string; payload: string }> {
  return new Promise((resolve) =>
    subscriber.once('message', (topic, payload) => resolve({ topic, payload: payload.toString() })),
  )
}

async function configFile(name: string, content: string): Promise<string> {
  const file = join(dir, name)
  await writeFile(file, content)
  return file
}

describe('wren command line', () => {
  it('prints its options with --help and exits 0', async () => {
    const { code, stdout } = await runWren(['--help'])
    expect(code).toBe(0)
    expect(stdout).toMatch(/^Usage: wren \[options\]/)
    const flags = ['--port', '--no-tcp', '--ws-port', '--no-ws', '--ws-path', '--host', '--config', '--persistence']
    flags.push('--sys-interval', '--max-connections', '--max-packet-size', '--log-level', '--shutdown-timeout')
    flags.push('--tls-port', '--wss-port', '--cert', '--key', '--ca', '--require-client-cert', '--cert-cn-as-username')
    flags.push('--password-file', '--acl-file', '--max-queued', '--max-inflight', '--max-publish-rate')
    flags.push('--max-subscriptions', '--connect-timeout', 'wren passwd')
    for (const flag of flags) expect(stdout).toContain(flag)
  })

  it('refuses an unknown flag with exit code 2', async () => {
    const { code, stderr } = await runWren(['--prot', '1883'])
    expect(code).toBe(2)
    expect(stderr).toContain("Unknown option '--prot'")
    expect(stderr).toContain('wren --help')
  })

  it('names the flag whose value is wrong', async () => {
    const { code, stderr } = await runWren(['--port', 'abc'])
    expect(code).toBe(2)
    expect(stderr).toBe('wren: --port must be an integer from -1 to 65535, got "abc"\n')
  })

  it('names the file and key of a bad config value', async () => {
    const file = await configFile('bad-port.json', JSON.stringify({ port: 70000 }))
    const { code, stderr } = await runWren(['--config', file])
    expect(code).toBe(2)
    expect(stderr).toBe(`wren: "port" in ${file} must be an integer from -1 to 65535, got 70000\n`)
  })

  it('rejects unknown keys, broken JSON, a missing file, no listeners and a bad persistence spec', async () => {
    const unknown = await configFile('unknown.json', JSON.stringify({ prot: 1 }))
    expect((await runWren(['--config', unknown])).stderr).toContain(`"prot" in ${unknown} is not a known setting`)
    const broken = await configFile('broken.json', '{ "port": ')
    expect((await runWren(['--config', broken])).stderr).toContain(`config file ${broken} is not valid JSON`)
    const missing = join(dir, 'missing.json')
    const noFile = await runWren(['--config', missing])
    expect(noFile.stderr).toBe(`wren: cannot read config file ${missing}: no such file\n`)
    const nothing = await runWren(['--no-tcp', '--no-ws'])
    expect(nothing.code).toBe(2)
    expect(nothing.stderr).toContain('every listener is off')
    const persistence = await runWren(['--persistence', 'mongo://x'])
    expect(persistence.code).toBe(2)
    expect(persistence.stderr).toContain('--persistence must be "memory", "sqlite:<file>" or "redis://host:port[/db]"')
  })

  it('logs its listening addresses and routes between TCP and WebSocket clients', async () => {
    const server = await wren(['--sys-interval', '0'])
    expect(server.urls.tcp).toBe(`mqtt://127.0.0.1:${server.ports.tcp}`)
    expect(server.urls.ws).toBe(`ws://127.0.0.1:${server.ports.ws}/mqtt`)

    const tcp = await client(server.urls.tcp!)
    const ws = await client(server.urls.ws!, { protocolVersion: 5 })
    await tcp.subscribeAsync('chat/#', { qos: 1 })
    await ws.subscribeAsync('chat/#', { qos: 2 })

    const atTcp = nextMessage(tcp)
    const atWs = nextMessage(ws)
    await ws.publishAsync('chat/ws', 'from ws', { qos: 1 })
    expect(await atTcp).toEqual({ topic: 'chat/ws', payload: 'from ws' })
    expect(await atWs).toEqual({ topic: 'chat/ws', payload: 'from ws' })

    const again = nextMessage(ws)
    await tcp.publishAsync('chat/tcp', 'from tcp', { qos: 2 })
    expect(await again).toEqual({ topic: 'chat/tcp', payload: 'from tcp' })
  })

  it('answers plain HTTP on the WebSocket port without upgrading', async () => {
    const server = await wren()
    const mqttPath = await fetch(`http://127.0.0.1:${server.ports.ws}/mqtt`)
    expect(mqttPath.status).toBe(426)
    const elsewhere = await fetch(`http://127.0.0.1:${server.ports.ws}/`)
    expect(elsewhere.status).toBe(404)
  })

  it('lets flags win over the config file', async () => {
    const file = await configFile('ok.json', JSON.stringify({ wsPort: 0, wsPath: '/broker', logLevel: 'debug' }))
    const server = await wren(['--config', file, '--no-ws', '--log-level', 'info'])
    expect(Object.keys(server.urls)).toEqual(['tcp'])
    const quiet = await client(server.urls.tcp!, { clientId: 'quiet' })
    await quiet.subscribeAsync('t', { qos: 0 })
    await quiet.endAsync()
    // The disconnect (info) is logged after the subscription (debug) would have been.
    await server.waitForLog((line) => line.msg === 'client disconnected' && line.clientId === 'quiet')
    expect(server.logs.some((line) => line.msg === 'client subscribed')).toBe(false)

    const wsOnly = await wren(['--config', file, '--no-tcp'])
    expect(Object.keys(wsOnly.urls)).toEqual(['ws'])
    expect(wsOnly.urls.ws).toBe(`ws://127.0.0.1:${wsOnly.ports.ws}/broker`)
    const loud = await client(wsOnly.urls.ws!)
    await loud.subscribeAsync('t', { qos: 0 })
    await wsOnly.waitForLog((line) => line.msg === 'client subscribed')
  })

  it('passes --max-connections and --max-packet-size to the broker', async () => {
    const server = await wren(['--no-ws', '--max-connections', '1', '--max-packet-size', '1024'])
    const first = await client(server.urls.tcp!)
    // The second connection is refused: closed at accept by the listener's cap (or after CONNACK 3 by the broker's).
    const second = createConnection({ host: '127.0.0.1', port: server.ports.tcp! })
    second.on('error', () => undefined)
    const closed = new Promise<void>((resolve) => second.once('close', () => resolve()))
    second.write(Buffer.from([0x10, 13, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 60, 0, 1, 0x78]))
    await closed

    const dropped = new Promise<void>((resolve) => first.once('close', () => resolve()))
    first.publish('big', Buffer.alloc(2048))
    await dropped
  })

  it('passes the queue, in-flight, rate, subscription and connect limits to the broker, from flags or the file', async () => {
    const file = await configFile('limits.json', JSON.stringify({ maxQueued: 50, maxInflight: 5, maxSubscriptions: 1 }))
    const args = ['--config', file, '--no-ws', '--max-publish-rate', '10', '--connect-timeout', '300', '--max-queued', '7']
    const server = await wren(args)
    const started = server.logs.find((line) => line.msg === 'broker started')!
    expect(started.brokerOptions).toEqual({
      sysInterval: 10,
      maxQueued: 7,
      maxInflight: 5,
      maxPublishRate: 10,
      connectTimeout: 300,
      maxSubscriptionsPerClient: 1,
    })

    const subscriber = await client(server.urls.tcp!)
    expect(await subscriber.subscribeAsync('one/#')).toEqual([{ topic: 'one/#', qos: 0 }])
    await expect(subscriber.subscribeAsync('two/#')).rejects.toThrow('Subscribe error')

    const silent = createConnection({ host: '127.0.0.1', port: server.ports.tcp! })
    silent.on('error', () => undefined)
    const opened = Date.now()
    await once(silent, 'close')
    expect(Date.now() - opened).toBeLessThan(3000)

    // 20 publishes at 10 a second, one after the other: the second ten wait for the next one-second window.
    const publisher = await client(server.urls.tcp!)
    const sending = Date.now()
    for (let i = 0; i < 20; i++) await publisher.publishAsync('one/rate', String(i), { qos: 1 })
    expect(Date.now() - sending).toBeGreaterThanOrEqual(900)
    expect(publisher.connected).toBe(true)
  })

  it('publishes $SYS topics every --sys-interval seconds', async () => {
    const server = await wren(['--no-ws', '--sys-interval', '1'])
    const watcher = await client(server.urls.tcp!)
    const topics = new Set<string>()
    const live = new Promise<void>((resolve) =>
      watcher.on('message', (topic, _payload, packet) => {
        // The first round may come as retained messages: a second, live one shows the interval is running.
        if (!packet.retain) topics.add(topic)
        if (topics.has('$SYS/broker/clients/connected')) resolve()
      }),
    )
    await watcher.subscribeAsync('$SYS/#')
    await live
  })

  it('exits 0 on SIGTERM after ending its clients', async () => {
    const server = await wren()
    const connected = await client(server.urls.tcp!)
    const closed = new Promise<void>((resolve) => connected.once('close', () => resolve()))
    const started = Date.now()
    server.child.kill('SIGTERM')
    expect(await server.exited).toEqual({ code: 0, signal: null })
    expect(Date.now() - started).toBeLessThan(5000)
    await closed
    const messages = server.logs.map((line) => line.msg)
    expect(messages).toContain('shutting down')
    expect(messages).toContain('broker stopped')
  })

  it('exits 0 on SIGINT too', async () => {
    const server = await wren()
    server.child.kill('SIGINT')
    expect(await server.exited).toEqual({ code: 0, signal: null })
  })

  it('exits 1 with one line naming the listener when its port is taken', async () => {
    const first = await wren(['--no-ws'])
    const port = first.ports.tcp!
    const { code, stdout, stderr } = await runWren(['--host', '127.0.0.1', '--port', '0', '--ws-port', String(port)])
    expect(code).toBe(1)
    expect(stderr).toBe(`wren: cannot listen on ws://127.0.0.1:${port}/mqtt: port ${port} is in use\n`)
    const lines = stdout.split('\n').filter(Boolean)
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ msg: 'could not start', err: { code: 'EADDRINUSE' } })
  })
})

/** Runs a mosquitto client to completion (bounded in time) and returns what it printed. */
function mosquitto(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${command} timed out: ${output}`))
    }, 30_000)
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(timer)
      if (code === 0) resolve(output)
      else reject(new Error(`${command} exited ${code}: ${output}`))
    })
  })
}

describe.each(['mqttv311', 'mqttv5'])('mosquitto clients (%s)', (version) => {
  it('mosquitto_sub receives at QoS 2 what mosquitto_pub sends at QoS 2', async () => {
    const server = await wren(['--no-ws', '--log-level', 'debug'])
    const port = String(server.ports.tcp)
    const at = ['-h', '127.0.0.1', '-p', port, '-V', version]
    const received = mosquitto('mosquitto_sub', [...at, '-t', 'a/#', '-q', '2', '-C', '1', '-v'])
    // The broker's log says when the subscription is in place: mosquitto_sub's own output is buffered.
    const subscribed = server.waitForLog((line) => line.msg === 'client subscribed' && String(line.filters) === 'a/#')
    await Promise.race([subscribed, received])
    await mosquitto('mosquitto_pub', [...at, '-t', 'a/b', '-m', 'hi', '-q', '2'])
    expect(await received).toBe('a/b hi\n')
  })
})
