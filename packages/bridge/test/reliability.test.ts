import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createBroker, type Persistence } from '@wren/core'
import { createRedisPersistence } from '@wren/persistence-redis'
import { createSqlitePersistence } from '@wren/persistence-sqlite'
import { startRedisServer } from '../../persistence-redis/test/redis-server.js'
import { connectClient, uniqueId, type TestClient } from '../../core/test/helpers/clients.js'
import { listen, startBroker } from '../../core/test/helpers/start-broker.js'
import { Bridge } from '../src/index.js'
import { bridgeState, connectedBridge } from './helpers.js'
import { startMosquitto } from './mosquitto-server.js'

/** Takes messages until `count` distinct payloads arrived; returns how many arrived in all. */
async function distinctPayloads(inbox: TestClient['inbox'], count: number, topic: string): Promise<Set<string>> {
  const seen = new Set<string>()
  while (seen.size < count) seen.add((await inbox.next((m) => m.topic === topic, 20_000)).payload.toString())
  return seen
}

describe('outgoing reliability: QoS 1 waits in Wren while the remote is away', () => {
  it('1,000 QoS 1 messages published while Mosquitto restarts all arrive, once each', async () => {
    const mosquitto = await startMosquitto({ persistence: true })
    onTestFinished(() => mosquitto.stop())
    const wren = await startBroker({ maxQueued: 5000 })
    const topic = uniqueId('queued')
    const bridge = await connectedBridge(wren.broker, mosquitto.port, { topics: [{ pattern: `${topic}/#`, qos: 1 }] })
    const subscriberId = uniqueId('remote-sub')
    const first = await connectClient(mosquitto.url, { clientId: subscriberId, clean: false })
    await first.client.subscribeAsync(`${topic}/#`, { qos: 1 })
    first.client.end(true)

    const down = bridgeState(bridge, 'disconnected')
    await mosquitto.halt()
    await down
    const publisher = await connectClient(wren.url)
    for (let i = 0; i < 1000; i++) await publisher.client.publishAsync(`${topic}/n`, String(i), { qos: 1 })

    const up = bridgeState(bridge, 'connected')
    await mosquitto.restart()
    await up
    const subscriber = await connectClient(mosquitto.url, { clientId: subscriberId, clean: false })
    const seen = await distinctPayloads(subscriber.inbox, 1000, `${topic}/n`)
    await publisher.client.publishAsync(`${topic}/marker`, 'end', { qos: 1 })
    await subscriber.inbox.next((m) => m.topic === `${topic}/marker`, 20_000)
    expect(seen.size).toBe(1000)
    expect(subscriber.inbox.received.filter((m) => m.topic === `${topic}/n`)).toHaveLength(1000)
  }, 60_000)

  it.each(['SQLite', 'Redis'])('messages queued for a remote that is down survive a Wren restart with %s', async (store) => {
    const dir = mkdtempSync(join(tmpdir(), 'wren-bridge-'))
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
    let persistence: () => Persistence
    if (store === 'Redis') {
      const redis = await startRedisServer()
      onTestFinished(() => redis.stop())
      persistence = () => createRedisPersistence({ url: redis.url })
    } else persistence = () => createSqlitePersistence({ path: join(dir, 'wren.db') })
    const mosquitto = await startMosquitto({ persistence: true })
    onTestFinished(() => mosquitto.stop())
    const topic = uniqueId('durable')
    const subscriberId = uniqueId('remote-sub')
    const first = await connectClient(mosquitto.url, { clientId: subscriberId, clean: false })
    await first.client.subscribeAsync(`${topic}/#`, { qos: 1 })
    first.client.end(true)
    const names = { name: 'durable', remoteClientId: uniqueId('durable-remote'), localClientId: uniqueId('durable-local') }
    const topics = [{ pattern: `${topic}/#`, qos: 1 as const }]

    const start = async () => {
      const broker = createBroker({ persistence: persistence() })
      const { server, port } = await listen(broker)
      return { broker, server, url: `mqtt://127.0.0.1:${port}` }
    }
    const before = await start()
    const bridge = await connectedBridge(before.broker, mosquitto.port, { ...names, topics })
    const down = bridgeState(bridge, 'disconnected')
    await mosquitto.halt()
    await down
    const publisher = await connectClient(before.url)
    for (let i = 0; i < 200; i++) await publisher.client.publishAsync(`${topic}/n`, String(i), { qos: 1 })
    publisher.client.end(true)
    await bridge.stop()
    before.server.close()
    await before.broker.close()

    await mosquitto.restart()
    const after = await start()
    onTestFinished(async () => {
      after.server.close()
      await after.broker.close()
    })
    const again = new Bridge(after.broker, { ...names, addresses: [`127.0.0.1:${mosquitto.port}`], topics })
    onTestFinished(() => again.stop())
    await again.start()
    const subscriber = await connectClient(mosquitto.url, { clientId: subscriberId, clean: false })
    const seen = await distinctPayloads(subscriber.inbox, 200, `${topic}/n`)
    expect(seen.size).toBe(200)
  }, 60_000)
})
