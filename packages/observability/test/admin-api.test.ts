import { describe, expect, it } from 'vitest'
import { connectClient, uniqueId } from '../../core/test/helpers/clients.js'
import { recordEvents } from '../../core/test/helpers/events.js'
import { startBroker } from '../../core/test/helpers/start-broker.js'
import { startAdminServer } from './helpers/admin-server.js'
import { sample } from './helpers/exposition.js'

const TOKEN = 'open-sesame'
const auth = { authorization: `Bearer ${TOKEN}` }

/** A JSON answer, loosely typed: the assertions pin its shape down. */
interface ApiBody {
  error: { code: string; message: string }
  items: Array<Record<string, unknown>>
  total: number
  payload: string
  [key: string]: unknown
}

async function getJson(url: string, init: RequestInit = {}): Promise<{ status: number; body: ApiBody }> {
  const response = await fetch(url, { ...init, headers: { ...auth, ...(init.headers ?? {}) } })
  expect(response.headers.get('content-type')).toMatch(/^application\/json/)
  return { status: response.status, body: (await response.json()) as ApiBody }
}

describe('admin API over HTTP', () => {
  it('refuses requests without the bearer token, with a JSON error', async () => {
    const b = await startBroker({ sysInterval: 0 })
    const admin = await startAdminServer({ broker: b.broker, token: TOKEN })
    for (const path of ['/api/v1/stats', '/metrics', '/api/v1/clients']) {
      const response = await fetch(admin.url + path)
      expect(response.status, path).toBe(401)
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="wren"')
      expect(await response.json()).toEqual({ error: { code: 'WREN_UNAUTHORIZED', message: 'missing or wrong bearer token' } })
    }
    const wrong = await fetch(`${admin.url}/api/v1/stats`, { headers: { authorization: 'Bearer nope' } })
    expect(wrong.status).toBe(401)
    const metrics = await fetch(`${admin.url}/metrics`, { headers: auth })
    expect(metrics.status).toBe(200)
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    expect(sample(await metrics.text(), 'wren_clients_connected')).toBe(0)
  })

  it('lets an authorize hook decide, and serves /metrics publicly when asked', async () => {
    const b = await startBroker({ sysInterval: 0 })
    const admin = await startAdminServer({ broker: b.broker, authorize: (req) => req.headers.cookie === 'session=ok', publicMetrics: true })
    expect((await fetch(`${admin.url}/api/v1/stats`)).status).toBe(401)
    expect((await fetch(`${admin.url}/api/v1/stats`, { headers: { cookie: 'session=ok' } })).status).toBe(200)
    expect((await fetch(`${admin.url}/metrics`)).status).toBe(200)
  })

  it('answers stats, client lists with paging and filter, client detail, and kicks', async () => {
    const b = await startBroker({ sysInterval: 0 })
    const admin = await startAdminServer({ broker: b.broker, token: TOKEN })
    const events = recordEvents(b.broker)
    const ids = ['alpha', 'bravo', 'charlie'].map((name) => uniqueId(name))
    const clients = await Promise.all(ids.map((clientId, i) => connectClient(b.url, { clientId, protocolVersion: 5, username: i === 1 ? 'bob' : undefined })))
    await clients[0]?.client.subscribeAsync('a/#', { qos: 1 })

    const stats = await getJson(`${admin.url}/api/v1/stats`)
    expect(stats.status).toBe(200)
    expect(stats.body).toMatchObject({ node: b.broker.id, clients: { connected: 3, maximum: 3, total: 3 }, subscriptions: 1, sessions: { online: 3, offline: 0 } })
    expect((stats.body.memory as { heapUsed: number }).heapUsed).toBeGreaterThan(0)

    const first = await getJson(`${admin.url}/api/v1/clients?limit=2`)
    expect(first.body).toMatchObject({ total: 3, offset: 0, limit: 2 })
    expect(first.body.items.map((c) => c.id)).toEqual(ids.slice(0, 2))
    const second = await getJson(`${admin.url}/api/v1/clients?limit=2&offset=2`)
    expect(second.body.items.map((c) => c.id)).toEqual([ids[2]])
    expect((await getJson(`${admin.url}/api/v1/clients?q=bob`)).body.items.map((c) => c.id)).toEqual([ids[1]])
    expect((await getJson(`${admin.url}/api/v1/clients?q=CHARLIE`)).body.total).toBe(1)
    expect((await getJson(`${admin.url}/api/v1/clients?limit=x`)).body.error.code).toBe('WREN_BAD_REQUEST')

    const detail = await getJson(`${admin.url}/api/v1/clients/${encodeURIComponent(ids[0] as string)}`)
    expect(detail.body).toMatchObject({ id: ids[0], transport: 'tcp', protocolVersion: 5, subscriptions: [{ filter: 'a/#', qos: 1 }] })
    expect(detail.body.address).toMatch(/^127\.0\.0\.1:\d+$/)
    const missing = await getJson(`${admin.url}/api/v1/clients/nobody`)
    expect(missing).toEqual({ status: 404, body: { error: { code: 'WREN_CLIENT_NOT_FOUND', message: "no client 'nobody' connected to this node" } } })

    const disconnect = new Promise<number | undefined>((resolve) => clients[2]?.client.once('disconnect', (packet) => resolve(packet.reasonCode)))
    const kicked = await getJson(`${admin.url}/api/v1/clients/${encodeURIComponent(ids[2] as string)}`, { method: 'DELETE' })
    expect(kicked).toEqual({ status: 200, body: { kicked: ids[2] } })
    expect(await disconnect).toBe(0x98)
    await events.disconnected.next((e) => e.client.id === ids[2] && e.reason === 'kicked', 3000, 'kicked')
    expect((await getJson(`${admin.url}/api/v1/clients`)).body.total).toBe(2)
    expect((await getJson(`${admin.url}/api/v1/clients/${encodeURIComponent(ids[2] as string)}`, { method: 'DELETE' })).status).toBe(404)
    expect((await getJson(`${admin.url}/api/v1/clients`, { method: 'DELETE' })).body.error.code).toBe('WREN_METHOD_NOT_ALLOWED')
    expect((await getJson(`${admin.url}/api/v1/nothing`)).body.error.code).toBe('WREN_NOT_FOUND')
  })

  it('lists sessions (offline ones too), reads and deletes one', async () => {
    const b = await startBroker({ sysInterval: 0 })
    const admin = await startAdminServer({ broker: b.broker, token: TOKEN })
    const events = recordEvents(b.broker)
    const id = uniqueId('persistent')
    const c = await connectClient(b.url, { clientId: id, clean: false })
    await c.client.subscribeAsync('p/#', { qos: 1 })
    await connectClient(b.url, { clientId: uniqueId('online') })
    await c.client.endAsync()
    await events.disconnected.next((e) => e.client.id === id, 3000, 'persistent client gone')
    let offline = (await getJson(`${admin.url}/api/v1/sessions?state=offline`)).body
    for (let turn = 0; turn < 1000 && offline.total === 0; turn++) {
      await new Promise((resolve) => setImmediate(resolve))
      offline = (await getJson(`${admin.url}/api/v1/sessions?state=offline`)).body
    }
    expect(offline.items).toEqual([expect.objectContaining({ clientId: id, state: 'offline', node: b.broker.id })])
    expect((await getJson(`${admin.url}/api/v1/sessions`)).body.total).toBe(2)
    expect((await getJson(`${admin.url}/api/v1/sessions?state=online`)).body.total).toBe(1)
    expect((await getJson(`${admin.url}/api/v1/sessions?state=gone`)).body.error.code).toBe('WREN_BAD_REQUEST')
    const session = await getJson(`${admin.url}/api/v1/sessions/${id}`)
    expect(session.body).toMatchObject({ clientId: id, state: 'offline', queued: 0, subscriptions: [{ filter: 'p/#', qos: 1 }] })

    expect(await getJson(`${admin.url}/api/v1/sessions/${id}`, { method: 'DELETE' })).toEqual({ status: 200, body: { deleted: id } })
    expect((await getJson(`${admin.url}/api/v1/sessions/${id}`)).body.error.code).toBe('WREN_SESSION_NOT_FOUND')
    expect((await getJson(`${admin.url}/api/v1/sessions/${id}`, { method: 'DELETE' })).status).toBe(404)
    expect((await getJson(`${admin.url}/api/v1/subscriptions?clientId=${id}`)).body.total).toBe(0)
  })

  it('finds subscriptions by client, filter and topic', async () => {
    const b = await startBroker({ sysInterval: 0 })
    const admin = await startAdminServer({ broker: b.broker, token: TOKEN })
    const one = await connectClient(b.url, { clientId: uniqueId('one') })
    const two = await connectClient(b.url, { clientId: uniqueId('two') })
    await one.client.subscribeAsync(['s/+/x', 'other'], { qos: 1 })
    await two.client.subscribeAsync('s/#', { qos: 0 })
    const all = (await getJson(`${admin.url}/api/v1/subscriptions`)).body
    expect(all.total).toBe(3)
    const byClient = (await getJson(`${admin.url}/api/v1/subscriptions?clientId=${two.client.options.clientId}`)).body
    expect(byClient.items).toEqual([expect.objectContaining({ filter: 's/#', qos: 0, shared: false })])
    expect((await getJson(`${admin.url}/api/v1/subscriptions?filter=other`)).body.items.map((s) => s.clientId)).toEqual([one.client.options.clientId])
    expect((await getJson(`${admin.url}/api/v1/subscriptions?topic=s/1/x`)).body.total).toBe(2)
    expect((await getJson(`${admin.url}/api/v1/subscriptions?topic=s/%23`)).body.error.code).toBe('WREN_TOPIC_INVALID')
  })

  it('browses, reads and deletes retained messages, binary payloads as base64', async () => {
    const b = await startBroker({ sysInterval: 0 })
    const admin = await startAdminServer({ broker: b.broker, token: TOKEN })
    await b.broker.publish({ topic: 'home/kitchen/temp', payload: '21.5', retain: true, qos: 1 })
    await b.broker.publish({ topic: 'home/hall/raw', payload: Buffer.from([0xff, 0x00, 0x01]), retain: true })
    await b.broker.publish({ topic: 'work/desk', payload: 'x'.repeat(1000), retain: true })
    const home = (await getJson(`${admin.url}/api/v1/retained?filter=${encodeURIComponent('home/#')}`)).body
    expect(home.items).toEqual([
      { topic: 'home/hall/raw', qos: 0, size: 3, encoding: 'base64', payload: '/wAB' },
      { topic: 'home/kitchen/temp', qos: 1, size: 4, encoding: 'utf8', payload: '21.5' },
    ])
    const long = (await getJson(`${admin.url}/api/v1/retained?filter=work/desk`)).body.items[0] ?? {}
    expect(long).toMatchObject({ size: 1000, truncated: true })
    expect(long.payload).toHaveLength(256)
    expect((await getJson(`${admin.url}/api/v1/retained/${encodeURIComponent('work/desk')}`)).body.payload).toHaveLength(1000)
    expect((await getJson(`${admin.url}/api/v1/retained`)).body.total).toBe(3)

    expect(await getJson(`${admin.url}/api/v1/retained/${encodeURIComponent('home/kitchen/temp')}`, { method: 'DELETE' })).toEqual({
      status: 200,
      body: { deleted: 'home/kitchen/temp' },
    })
    expect((await getJson(`${admin.url}/api/v1/retained/home/kitchen/temp`)).body.error.code).toBe('WREN_RETAINED_NOT_FOUND')
    const fresh = await connectClient(b.url)
    await fresh.client.subscribeAsync('home/#', { qos: 0 })
    expect((await fresh.inbox.next(() => true, 3000, 'the one retained message left')).topic).toBe('home/hall/raw')
    expect((await getJson(`${admin.url}/api/v1/retained?filter=${encodeURIComponent('a/#/b')}`)).body.error.code).toBe('WREN_TOPIC_INVALID')
  })

  it('streams overviews as server-sent events', async () => {
    const b = await startBroker({ sysInterval: 0 })
    const admin = await startAdminServer({ broker: b.broker, token: TOKEN, liveInterval: 100 })
    const controller = new AbortController()
    const response = await fetch(`${admin.url}/api/v1/events`, { headers: auth, signal: controller.signal })
    expect(response.headers.get('content-type')).toBe('text/event-stream')
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    const decoder = new TextDecoder()
    let text = ''
    const overviews: Array<{ clients: { connected: number } }> = []
    await connectClient(b.url)
    while (!overviews.some((o) => o.clients.connected === 1)) {
      const { value, done } = await reader.read()
      if (done) throw new Error('event stream ended')
      text += decoder.decode(value, { stream: true })
      const blocks = text.split('\n\n')
      text = blocks.pop() ?? ''
      for (const block of blocks) {
        const data = block.split('\n').find((line) => line.startsWith('data: '))
        if (data) overviews.push(JSON.parse(data.slice(6)))
      }
    }
    controller.abort()
    expect(overviews.length).toBeGreaterThanOrEqual(1)
  })
})
