import { connectAsync, type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { start } from '../index.js'

const TOKEN = 'example-token'
const auth = { authorization: `Bearer ${TOKEN}` }
let app: Awaited<ReturnType<typeof start>>
let client: MqttClient | undefined

beforeAll(async () => {
  app = await start({ httpPort: 0, mqttPort: 0, adminToken: TOKEN })
})
afterAll(async () => {
  await client?.endAsync(true)
  await app?.close()
})

describe('dashboard example', () => {
  it('serves the dashboard under /admin with links resolved against the mount path', async () => {
    const response = await fetch(`http://127.0.0.1:${app.httpPort}/admin/clients`)
    expect(response.status).toBe(200)
    const html = await response.text()
    expect(html).toContain('<base href="/admin/">')
    for (const page of ['/admin', '/admin/']) expect(await (await fetch(`http://127.0.0.1:${app.httpPort}${page}`)).text()).toContain('<base href="/admin/">')
    const script = await fetch(`http://127.0.0.1:${app.httpPort}/admin/assets/app.js`)
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/)
  })

  it('answers the admin API and metrics behind the token', async () => {
    // A session that outlives its connection is looked up in the store (a clean one with the memory store is not).
    client = await connectAsync(`mqtt://127.0.0.1:${app.mqttPort}`, { clientId: 'example-client', clean: false, reconnectPeriod: 0 })
    expect((await fetch(`http://127.0.0.1:${app.httpPort}/admin/api/v1/clients`)).status).toBe(401)
    const clients = await (await fetch(`http://127.0.0.1:${app.httpPort}/admin/api/v1/clients`, { headers: auth })).json()
    expect(clients).toMatchObject({ total: 1, items: [{ id: 'example-client', transport: 'tcp' }] })
    const metrics = await (await fetch(`http://127.0.0.1:${app.httpPort}/admin/metrics`, { headers: auth })).text()
    expect(metrics).toMatch(/^wren_clients_connected 1$/m)
    expect(metrics).toMatch(/^wren_persistence_operation_duration_seconds_count\{operation="sessionGet"\} 1$/m)
  })

  it('leaves the app its own routes', async () => {
    expect(await (await fetch(`http://127.0.0.1:${app.httpPort}/`)).text()).toContain('/admin/')
  })
})
