import { once } from 'node:events'
import { describe, expect, it } from 'vitest'
import type { Broker } from '@wren/core'
import { Bridge } from '../../bridge/src/index.js'
import { bridgeState, tcpProxy } from '../../bridge/test/helpers.js'
import { connectClient, uniqueId } from '../../core/test/helpers/clients.js'
import { startBroker } from '../../core/test/helpers/start-broker.js'
import { snClient, startGateway } from '../../gateway-mqttsn/test/helpers.js'
import { createMetrics } from '../src/index.js'
import { startAdminServer } from './helpers/admin-server.js'
import { promtoolCheck, sample } from './helpers/exposition.js'

interface ComponentBody {
  name: string
  up: boolean
  state: string
  values: Record<string, number>
  details: Record<string, unknown>
}

async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const response = await fetch(url)
  return { status: response.status, body: (await response.json()) as T }
}

describe('bridges and gateways in the metrics and the admin API', () => {
  it('reports a bridge: up, messages both ways, messages queued while the remote is down, reconnects', async () => {
    const local = await startBroker({ sysInterval: 0 })
    const remote = await startBroker({ sysInterval: 0 })
    const proxy = await tcpProxy(remote.port)
    const port = proxy.port
    const name = uniqueId('cloud')
    const bridge = new Bridge(local.broker as unknown as Broker, {
      name,
      remoteClientId: name,
      addresses: [{ host: '127.0.0.1', port }],
      restartTimeout: { base: 0.05, cap: 0.2 },
      topics: [{ pattern: 'up/#', direction: 'out', qos: 1 }, { pattern: 'down/#', direction: 'in', qos: 1 }],
      sysInterval: 0,
    })
    const metrics = createMetrics(local.broker, { defaultMetrics: false })
    const admin = await startAdminServer({ broker: local.broker })
    const connected = once(bridge, 'connected')
    await bridge.start()
    await connected
    const sensor = await connectClient(local.url)
    const cloud = await connectClient(remote.url)
    await cloud.client.subscribeAsync('up/#', { qos: 1 })
    for (let i = 0; i < 3; i++) await sensor.client.publishAsync('up/temp', String(i), { qos: 1 })
    await cloud.inbox.take(3, () => true, 5000, 'bridged out')
    await sensor.client.subscribeAsync('down/#', { qos: 1 })
    for (let i = 0; i < 2; i++) await cloud.client.publishAsync('down/cmd', String(i), { qos: 1 })
    await sensor.inbox.take(2, () => true, 5000, 'bridged in')

    const labels = { bridge: name }
    // Counted as sent once the remote acknowledges, which can come after the remote delivered it.
    await expect.poll(async () => sample(await metrics.metrics(), 'wren_bridge_messages_sent_total', labels)).toBe(3)
    let text = await metrics.metrics()
    expect(sample(text, 'wren_bridge_up', labels)).toBe(1)
    expect(sample(text, 'wren_bridge_messages_sent_total', labels)).toBe(3)
    expect(sample(text, 'wren_bridge_messages_received_total', labels)).toBe(2)
    expect(sample(text, 'wren_bridge_reconnects_total', labels)).toBe(0)
    expect(sample(text, 'wren_bridge_queued_messages', labels)).toBe(0)
    expect(await promtoolCheck(text)).toEqual({ code: 0, output: '' })

    // The remote goes away: the bridge is down and local messages for it wait in its local session.
    await proxy.close()
    await bridgeState(bridge, 'disconnected')
    for (let i = 0; i < 2; i++) await sensor.client.publishAsync('up/temp', `late ${i}`, { qos: 1 })
    text = await metrics.metrics()
    expect(sample(text, 'wren_bridge_up', labels)).toBe(0)
    expect(sample(text, 'wren_bridge_queued_messages', labels)).toBe(2)
    const listed = await getJson<{ items: ComponentBody[]; total: number }>(`${admin.url}/api/v1/bridges`)
    expect(listed.body.total).toBe(1)
    expect(listed.body.items[0]).toMatchObject({ kind: 'bridge', name, up: false, values: { queued_messages: 2, messages_sent: 3 } })

    // Back: the queue drains to the remote and the reconnection is counted.
    const again = await tcpProxy(remote.port, { port })
    await once(bridge, 'connected')
    await cloud.inbox.take(2, (m) => m.payload.toString().startsWith('late'), 5000, 'queued messages after the reconnection')
    // The bridge counts a message sent when the remote acknowledges it, which can come after the remote delivered it.
    const bridgeUrl = `${admin.url}/api/v1/bridges/${encodeURIComponent(name)}`
    await expect.poll(async () => (await getJson<ComponentBody>(bridgeUrl)).body.values.messages_sent).toBe(5)
    const detail = await getJson<ComponentBody>(bridgeUrl)
    expect(detail.body).toMatchObject({ name, up: true, state: 'connected', values: { reconnects: 1, messages_sent: 5 } })
    expect(detail.body.details).toMatchObject({ remote: `127.0.0.1:${port}`, addresses: [`127.0.0.1:${port}`], localClientId: `local.${name}` })
    expect((await getJson<{ error: { code: string } }>(`${admin.url}/api/v1/bridges/nope`)).body.error.code).toBe('WREN_BRIDGE_NOT_FOUND')

    // A stopped bridge leaves the metrics and the API.
    await bridge.stop()
    await again.close()
    expect(sample(await metrics.metrics(), 'wren_bridge_up', labels)).toBeUndefined()
    expect((await getJson<{ total: number }>(`${admin.url}/api/v1/bridges`)).body.total).toBe(0)
  })

  it('reports the MQTT-SN gateway: clients by state, datagrams and messages', async () => {
    const gw = await startGateway()
    const metrics = createMetrics(gw.broker, { defaultMetrics: false })
    const admin = await startAdminServer({ broker: gw.broker })
    const client = await snClient(gw)
    for (let i = 0; i < 2; i++) await client.publish('sn/temp', String(i), { qos: 1 })

    const text = await metrics.metrics()
    const labels = { gateway: 'mqtt-sn' }
    expect(sample(text, 'wren_gateway_up', labels)).toBe(1)
    expect(sample(text, 'wren_gateway_clients_active', labels)).toBe(1)
    expect(sample(text, 'wren_gateway_messages_received_total', labels)).toBe(2)
    expect(sample(text, 'wren_gateway_datagrams_received_total', labels)).toBe(gw.gateway.stats.datagramsReceived)
    expect(await promtoolCheck(text)).toEqual({ code: 0, output: '' })

    const listed = await getJson<{ items: ComponentBody[] }>(`${admin.url}/api/v1/gateways`)
    expect(listed.body.items).toHaveLength(1)
    expect(listed.body.items[0]).toMatchObject({ kind: 'gateway', name: 'mqtt-sn', up: true, state: 'listening', values: { clients_active: 1, messages_received: 2 } })
    const detail = await getJson<ComponentBody>(`${admin.url}/api/v1/gateways/mqtt-sn`)
    expect(detail.body.details).toMatchObject({ address: `127.0.0.1:${gw.udpPort}`, clientsByState: { active: 1 } })

    gw.gateway.close()
    expect((await getJson<{ total: number }>(`${admin.url}/api/v1/gateways`)).body.total).toBe(0)
    expect(sample(await metrics.metrics(), 'wren_gateway_up', labels)).toBeUndefined()
  })

  it('refuses a second component of one kind under one name', async () => {
    const b = await startBroker({ sysInterval: 0 })
    const component = { kind: 'bridge', name: 'twin', metrics: [], snapshot: () => ({ up: true, state: 'connected', values: {} }) } as const
    const unregister = b.broker.admin.register(component)
    expect(() => b.broker.admin.register({ ...component })).toThrow(expect.objectContaining({ code: 'WREN_COMPONENT_DUPLICATE' }))
    expect(() => b.broker.admin.register({ ...component, name: 'other', metrics: [{ name: 'Bad-Name', type: 'gauge', help: '' }] })).toThrow(
      expect.objectContaining({ code: 'WREN_COMPONENT_METRIC_INVALID' }),
    )
    unregister()
    expect(b.broker.admin.components()).toEqual([])
  })
})
