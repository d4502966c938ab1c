import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { connectAsync, type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { start } from '../index.js'
import { assertBuilt } from '../../../packages/core/test/helpers/built.js'

let app: Awaited<ReturnType<typeof start>>
const clients: MqttClient[] = []

beforeAll(async () => {
  app = await start({ httpPort: 0, mqttPort: 0 })
})
afterAll(async () => {
  await Promise.all(clients.map((client) => client.endAsync(true)))
  await app?.close()
})

async function client(url: string): Promise<MqttClient> {
  const connected = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000 })
  clients.push(connected)
  return connected
}

function nextMessage(subscriber: MqttClient): Promise<{ topic: string; payload: string }> {
  return new Promise((resolve) =>
    subscriber.once('message', (topic, payload) => resolve({ topic, payload: payload.toString() })),
  )
}

describe('express-embed example', () => {
  it('serves its own HTTP routes', async () => {
    const response = await fetch(`http://127.0.0.1:${app.httpPort}/health`)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ ok: true, clients: 0 })
  })

  it('serves MQTT over WebSocket on the same HTTP server and over TCP', async () => {
    const ws = await client(`ws://127.0.0.1:${app.httpPort}/mqtt`)
    const tcp = await client(`mqtt://127.0.0.1:${app.mqttPort}`)
    await ws.subscribeAsync('orders/#', { qos: 1 })
    const atWs = nextMessage(ws)
    await tcp.publishAsync('orders/1', 'paid', { qos: 1 })
    expect(await atWs).toEqual({ topic: 'orders/1', payload: 'paid' })

    const health = await fetch(`http://127.0.0.1:${app.httpPort}/health`)
    expect(await health.json()).toEqual({ ok: true, clients: 2 })
  })

  it('publishes to MQTT clients from POST /notify', async () => {
    const tcp = await client(`mqtt://127.0.0.1:${app.mqttPort}`)
    await tcp.subscribeAsync('alerts/+', { qos: 1 })
    const received = nextMessage(tcp)
    const response = await fetch(`http://127.0.0.1:${app.httpPort}/notify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topic: 'alerts/disk', message: { level: 'warn', free: '2%' } }),
    })
    expect(response.status).toBe(202)
    expect(await response.json()).toEqual({ published: 'alerts/disk' })
    const { topic, payload } = await received
    expect(topic).toBe('alerts/disk')
    expect(JSON.parse(payload)).toEqual({ level: 'warn', free: '2%' })
  })

  it.each([
    [{ topic: 'alerts/#', message: 'x' }, 'topic: wildcard-in-name'],
    [{ topic: 'alerts/+/disk', message: 'x' }, 'topic: wildcard-in-name'],
    [{ message: 'no topic' }, 'topic: not-a-string'],
  ])('answers 400 JSON to POST /notify %j, and publishes nothing', async (body, error) => {
    const tcp = await client(`mqtt://127.0.0.1:${app.mqttPort}`)
    await tcp.subscribeAsync('#', { qos: 1 })
    const seen: string[] = []
    tcp.on('message', (topic) => seen.push(topic))
    const response = await fetch(`http://127.0.0.1:${app.httpPort}/notify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    expect(response.status).toBe(400)
    expect(response.headers.get('content-type')).toMatch(/^application\/json/)
    expect(await response.json()).toEqual({ error })
    // Published after the refused one: once it arrives, anything the refused request published would have too.
    const marker = new Promise<void>((resolve) => tcp.on('message', (topic) => topic === 'after/refusal' && resolve()))
    await tcp.publishAsync('after/refusal', 'x', { qos: 1 })
    await marker
    expect(seen.filter((topic) => topic !== 'after/refusal')).toEqual([])
  })

  it('answers 400 JSON to a body that is not JSON', async () => {
    const response = await fetch(`http://127.0.0.1:${app.httpPort}/notify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{not json',
    })
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: expect.any(String) })
  })

  it('runs as a process on the ports of HTTP_PORT and MQTT_PORT, and exits 0 on SIGTERM', async () => {
    // As a process, the example imports the packages as a user would, from their builds.
    assertBuilt('server')
    const child = spawn(process.execPath, [fileURLToPath(new URL('../index.js', import.meta.url))], {
      env: { ...process.env, HTTP_PORT: '0', MQTT_PORT: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const exited = once(child, 'exit')
    const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string]
    const [, httpPort, mqttPort] = /on :(\d+) \(\/mqtt\), MQTT over TCP on :(\d+)/.exec(line)!
    expect((await fetch(`http://127.0.0.1:${httpPort}/health`)).status).toBe(200)
    const tcp = await connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { reconnectPeriod: 0 })
    const closedByServer = once(tcp, 'close')
    child.kill('SIGTERM')
    expect(await exited).toEqual([0, null])
    await closedByServer
    await tcp.endAsync(true)
  })
})

