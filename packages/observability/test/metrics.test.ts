import { readFile } from 'node:fs/promises'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { createSqlitePersistence } from '../../persistence-sqlite/src/index.js'
import { createMemoryPersistence } from '@wren/core'
import { connectClient, sleep, uniqueId } from '../../core/test/helpers/clients.js'
import { recordEvents } from '../../core/test/helpers/events.js'
import { rawConnectV5, rawSubscribe } from '../../core/test/helpers/v5.js'
import { startBroker } from '../../core/test/helpers/start-broker.js'
import { createMetrics, timePersistence } from '../src/index.js'
import { promtoolCheck, sample } from './helpers/exposition.js'

describe('Prometheus metrics read from the broker counters', () => {
  it('counts messages by QoS, packets by type, bytes, connections by transport and the gauges', async () => {
    const b = await startBroker({ sysInterval: 0 })
    const metrics = createMetrics(b.broker)
    const subscriber = await connectClient(b.url, { clientId: uniqueId('sub') })
    const publisher = await connectClient(b.url, { clientId: uniqueId('pub') })
    await subscriber.client.subscribeAsync('m/#', { qos: 2 })
    await subscriber.client.subscribeAsync('$share/g/m/#', { qos: 0 })
    await publisher.client.publishAsync('m/0', 'zero', { qos: 0 })
    await publisher.client.publishAsync('m/1', 'one', { qos: 1 })
    await publisher.client.publishAsync('m/2', 'two', { qos: 2, retain: true })
    // Three deliveries to the plain subscription at the publisher's QoS, three at QoS 0 to the shared one.
    await subscriber.inbox.take(6, () => true, 5000, 'six deliveries')

    const text = await metrics.metrics()
    for (const qos of [0, 1, 2]) expect(sample(text, 'wren_messages_received_total', { qos }), `received qos ${qos}`).toBe(1)
    expect(sample(text, 'wren_messages_sent_total', { qos: 0 })).toBe(4)
    expect(sample(text, 'wren_messages_sent_total', { qos: 1 })).toBe(1)
    expect(sample(text, 'wren_messages_sent_total', { qos: 2 })).toBe(1)
    expect(sample(text, 'wren_packets_received_total', { type: 'connect' })).toBe(2)
    expect(sample(text, 'wren_packets_received_total', { type: 'subscribe' })).toBe(2)
    expect(sample(text, 'wren_packets_received_total', { type: 'publish' })).toBe(3)
    expect(sample(text, 'wren_packets_sent_total', { type: 'connack' })).toBe(2)
    expect(sample(text, 'wren_packets_sent_total', { type: 'suback' })).toBe(2)
    expect(sample(text, 'wren_packets_sent_total', { type: 'publish' })).toBe(6)
    expect(sample(text, 'wren_packets_sent_total', { type: 'puback' })).toBe(1)
    expect(sample(text, 'wren_packets_sent_total', { type: 'pubrec' })).toBe(1)
    expect(sample(text, 'wren_connections_total', { transport: 'tcp' })).toBe(2)
    expect(sample(text, 'wren_bytes_received_total')).toBe(b.broker.stats.bytesReceived)
    expect(sample(text, 'wren_bytes_sent_total')).toBe(b.broker.stats.bytesSent)
    expect(sample(text, 'wren_bytes_sent_total')).toBeGreaterThan(0)
    expect(sample(text, 'wren_clients_connected')).toBe(2)
    expect(sample(text, 'wren_clients_maximum')).toBe(2)
    expect(sample(text, 'wren_sessions', { state: 'online' })).toBe(2)
    expect(sample(text, 'wren_sessions', { state: 'offline' })).toBe(0)
    expect(sample(text, 'wren_subscriptions')).toBe(2)
    expect(sample(text, 'wren_shared_subscriptions')).toBe(1)
    expect(sample(text, 'wren_retained_messages')).toBe(1)
    expect(sample(text, 'wren_queued_messages')).toBe(0)
    expect(sample(text, 'wren_inflight_messages')).toBeGreaterThanOrEqual(0)
    expect(sample(text, 'process_cpu_seconds_total')).toBeGreaterThan(0)
    expect(sample(text, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0)
    // No node label outside a cluster.
    expect(text).not.toContain('node="')

    await subscriber.client.endAsync()
    expect(sample(await metrics.metrics(), 'wren_clients_maximum')).toBe(2)
  })

  it('counts authentication results, authorization denials and drops by reason', async () => {
    const b = await startBroker({
      sysInterval: 0,
      maxQueued: 1,
      hooks: {
        authenticate: (_client, { username }) => username !== 'mallory',
        authorizePublish: (_client, message) => !message.topic.startsWith('secret/'),
        authorizeSubscribe: (_client, subscription) => subscription.filter !== 'forbidden',
        authorizeForward: (_client, message) => message.topic !== 'hidden',
      },
    })
    const events = recordEvents(b.broker)
    const metrics = createMetrics(b.broker)
    await expect(connectClient(b.url, { username: 'mallory', password: 'x' })).rejects.toThrow()
    const publisher = await connectClient(b.url, { protocolVersion: 5, username: 'alice' })
    const small = await connectClient(b.url, { protocolVersion: 5, properties: { maximumPacketSize: 64 } })
    const offlineId = uniqueId('offline')
    const offline = await connectClient(b.url, { clientId: offlineId, clean: false })
    await offline.client.subscribeAsync('queue/#', { qos: 1 })
    await offline.client.endAsync()
    await events.disconnected.next((e) => e.client.id === offlineId, 3000, 'offline client gone')
    await small.client.subscribeAsync(['big', 'hidden'], { qos: 0 })
    await expect(small.client.subscribeAsync('forbidden', { qos: 0 })).rejects.toThrow('Not authorized')

    await expect(publisher.client.publishAsync('secret/plans', 'x', { qos: 1 })).rejects.toThrow('Not authorized')
    await publisher.client.publishAsync('nobody/listens', 'x', { qos: 1 })
    await publisher.client.publishAsync('hidden', 'x', { qos: 1 })
    await publisher.client.publishAsync('big', Buffer.alloc(200), { qos: 1 })
    await publisher.client.publishAsync('queue/1', 'first', { qos: 1 })
    await publisher.client.publishAsync('queue/2', 'second: the queue holds one', { qos: 1 })

    const text = await metrics.metrics()
    expect(sample(text, 'wren_authentication_total', { result: 'success' })).toBe(3)
    expect(sample(text, 'wren_authentication_total', { result: 'failure' })).toBe(1)
    expect(sample(text, 'wren_authorization_denied_total', { action: 'publish' })).toBe(1)
    expect(sample(text, 'wren_authorization_denied_total', { action: 'subscribe' })).toBe(1)
    expect(sample(text, 'wren_authorization_denied_total', { action: 'forward' })).toBe(1)
    expect(sample(text, 'wren_messages_dropped_total', { reason: 'not_authorized' })).toBe(2)
    expect(sample(text, 'wren_messages_dropped_total', { reason: 'no_subscribers' })).toBe(1)
    expect(sample(text, 'wren_messages_dropped_total', { reason: 'too_large' })).toBe(1)
    expect(sample(text, 'wren_messages_dropped_total', { reason: 'queue_full' })).toBe(1)
    expect(sample(text, 'wren_messages_dropped_total', { reason: 'slow_consumer' })).toBe(0)
    expect(sample(text, 'wren_messages_dropped_total', { reason: 'expired' })).toBe(0)
    expect(sample(text, 'wren_sessions', { state: 'offline' })).toBe(1)
  })

  it('counts offline sessions and what is queued for them without reading the store, and after a restart from it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wren-offline-'))
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
    const path = join(dir, 'wren.db')
    const first = await startBroker({ sysInterval: 0, maxQueued: 3, persistence: createSqlitePersistence({ path }) })
    const events = recordEvents(first.broker)
    const metrics = createMetrics(first.broker, { defaultMetrics: false })
    const ids = [uniqueId('sleeper'), uniqueId('sleeper')]
    for (const clientId of ids) {
      const client = await connectClient(first.url, { clientId, clean: false })
      await client.client.subscribeAsync('night/#', { qos: 1 })
      await client.client.endAsync()
      await events.disconnected.next((e) => e.client.id === clientId, 3000, 'offline')
    }
    const publisher = await connectClient(first.url)
    // QoS 0 is not queued for offline sessions; the fourth QoS 1 message finds both queues full (maxQueued 3).
    await publisher.client.publishAsync('night/light', 'zero', { qos: 0 })
    for (const payload of ['one', 'three', 'fiver', 'overflow']) await publisher.client.publishAsync('night/light', payload, { qos: 1 })
    let text = await metrics.metrics()
    expect(sample(text, 'wren_sessions', { state: 'offline' })).toBe(2)
    expect(sample(text, 'wren_offline_queued_messages')).toBe(6)
    expect(sample(text, 'wren_offline_queued_bytes')).toBe(2 * (3 + 5 + 5))

    // One comes back: its queue is delivered and leaves the gauges.
    const back = await connectClient(first.url, { clientId: ids[0], clean: false })
    await back.inbox.take(3, () => true, 5000, 'the queued messages')
    text = await metrics.metrics()
    expect(sample(text, 'wren_sessions', { state: 'offline' })).toBe(1)
    expect(sample(text, 'wren_offline_queued_messages')).toBe(3)
    await back.client.endAsync()
    await events.disconnected.next((e) => e.client.id === ids[0], 3000, 'offline again')
    await first.close()

    // A broker started on the same store holds both sessions again and counts their queues from it.
    const second = await startBroker({ sysInterval: 0, persistence: createSqlitePersistence({ path }) })
    const again = createMetrics(second.broker, { defaultMetrics: false })
    expect(sample(await again.metrics(), 'wren_sessions', { state: 'offline' })).toBe(2)
    await vi.waitFor(async () => expect(sample(await again.metrics(), 'wren_offline_queued_messages')).toBe(3), { timeout: 30_000, interval: 50 })
    expect(sample(await again.metrics(), 'wren_offline_queued_bytes')).toBe(13)
  })

  it('counts a queued message whose expiry passed while its client was offline as dropped (expired)', async () => {
    const b = await startBroker({ sysInterval: 0 })
    const events = recordEvents(b.broker)
    const metrics = createMetrics(b.broker, { defaultMetrics: false })
    const clientId = uniqueId('expiring')
    const session = { clientId, protocolVersion: 5 as const, clean: false, properties: { sessionExpiryInterval: 60 } }
    const first = await connectClient(b.url, session)
    await first.client.subscribeAsync('exp/t', { qos: 1 })
    await first.client.endAsync()
    await events.disconnected.next((e) => e.client.id === clientId, 3000, 'offline')
    await b.broker.publish({ topic: 'exp/t', payload: 'short-lived', qos: 1, properties: { messageExpiryInterval: 1 } })
    // What is tested is time passing: the message's one second of life.
    await sleep(1100)
    const back = await connectClient(b.url, session)
    expect(back.connack.sessionPresent).toBe(true)
    expect(sample(await metrics.metrics(), 'wren_messages_dropped_total', { reason: 'expired' })).toBe(1)
  })

  it('counts QoS 0 messages to a client that stops reading as dropped (slow consumer)', async () => {
    const b = await startBroker({ sysInterval: 0, maxSocketBuffer: 64 * 1024 })
    const metrics = createMetrics(b.broker, { defaultMetrics: false })
    const { raw } = await rawConnectV5(b.port)
    await rawSubscribe(raw, 'slow/#', 0)
    raw.stream.pause()
    const payload = Buffer.alloc(256 * 1024, 0x61)
    // Bounded: the kernel buffers fill within a few MiB, after which every QoS 0 message is dropped.
    for (let i = 0; i < 400 && b.broker.stats.dropped.slowConsumer === 0; i++) {
      await b.broker.publish({ topic: 'slow/t', payload, qos: 0 })
      if (i % 10 === 0) await new Promise((resolve) => setImmediate(resolve))
    }
    expect(sample(await metrics.metrics(), 'wren_messages_dropped_total', { reason: 'slow_consumer' })).toBeGreaterThan(0)
  })

  it('reports QoS 1 messages in flight to a client that does not acknowledge, and those queued behind them', async () => {
    const b = await startBroker({ sysInterval: 0, maxInflight: 10 })
    const metrics = createMetrics(b.broker, { defaultMetrics: false })
    const { raw } = await rawConnectV5(b.port)
    await rawSubscribe(raw, 'unacked/#', 1)
    for (let i = 0; i < 15; i++) await b.broker.publish({ topic: 'unacked/t', payload: String(i), qos: 1 })
    const text = await metrics.metrics()
    expect(sample(text, 'wren_inflight_messages')).toBe(10)
    expect(sample(text, 'wren_queued_messages')).toBe(5)
  })

  it('reports persistence latency as a histogram when the store is wrapped by timePersistence', async () => {
    const b = await startBroker({ sysInterval: 0, persistence: timePersistence(createMemoryPersistence()) })
    const metrics = createMetrics(b.broker, { defaultMetrics: false })
    await b.broker.publish({ topic: 'r/1', payload: 'x', retain: true })
    await b.broker.publish({ topic: 'r/2', payload: 'y', retain: true })
    const text = await metrics.metrics()
    expect(sample(text, 'wren_persistence_operation_duration_seconds_count', { operation: 'retainedStore' })).toBe(2)
    expect(sample(text, 'wren_persistence_operation_duration_seconds_bucket', { operation: 'retainedStore', le: '+Inf' })).toBe(2)
    expect(sample(text, 'wren_persistence_operation_duration_seconds_bucket', { operation: 'retainedStore', le: '2.5' })).toBe(2)
    expect(sample(text, 'wren_persistence_operation_duration_seconds_sum', { operation: 'retainedStore' })).toBeGreaterThan(0)
    expect(await b.broker.admin.retained()).toHaveLength(2)
  })

  it('labels every series with the node when asked (as in a cluster)', async () => {
    const b = await startBroker({ sysInterval: 0 })
    const text = await createMetrics(b.broker, { node: 'node-a' }).metrics()
    expect(sample(text, 'wren_clients_connected', { node: 'node-a' })).toBe(0)
    expect(sample(text, 'process_cpu_seconds_total', { node: 'node-a' })).toBeGreaterThan(0)
  })

  it('are the metrics the reference table of docs/observability.md lists', async () => {
    const b = await startBroker({ sysInterval: 0, persistence: timePersistence(createMemoryPersistence()) })
    await b.broker.publish({ topic: 'r', payload: 'x', retain: true })
    const exposed = createMetrics(b.broker).registry.getMetricsAsArray().map((m) => m.name).filter((name) => name.startsWith('wren_')).sort()
    const doc = await readFile(new URL('../../../docs/observability.md', import.meta.url), 'utf8')
    // Bridges' and gateways' families appear once one registers (components.test.ts).
    const documented = [...doc.matchAll(/^\| `(wren_[a-z_]+)` \|/gm)].map((m) => m[1] as string).filter((name) => !/^wren_(bridge|gateway)_/.test(name)).sort()
    expect(documented).toEqual(exposed)
  })

  it('passes promtool check metrics', async () => {
    const b = await startBroker({ sysInterval: 0, persistence: timePersistence(createMemoryPersistence()) })
    const metrics = createMetrics(b.broker)
    const client = await connectClient(b.url)
    await client.client.subscribeAsync('x', { qos: 1 })
    await client.client.publishAsync('x', 'y', { qos: 1, retain: true })
    await client.inbox.next(() => true, 3000, 'own message')
    const { code, output } = await promtoolCheck(await metrics.metrics())
    expect(output).toBe('')
    expect(code).toBe(0)
  })
})
