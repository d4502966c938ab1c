import { connectAsync, type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { start } from '../index.js'

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
})
