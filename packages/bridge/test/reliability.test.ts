import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { type BrokerOptions, createBroker, type Persistence } from '@wren/core'
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

/**
 * Wren bridged out (QoS 1) to a persistent Mosquitto, with a persistent subscriber there that is offline, and
 * Mosquitto halted: messages for the remote now wait in Wren.
 */
async function bridgeToHaltedMosquitto(name: string, options: BrokerOptions = {}) {
  const mosquitto = await startMosquitto({ persistence: true })
  onTestFinished(() => mosquitto.stop())
  const wren = await startBroker(options)
  const topic = uniqueId(name)
  const bridge = await connectedBridge(wren.broker, mosquitto.port, { topics: [{ pattern: `${topic}/#`, qos: 1 }] })
  const subscriberId = uniqueId('remote-sub')
  const first = await connectClient(mosquitto.url, { clientId: subscriberId, clean: false })
  await first.client.subscribeAsync(`${topic}/#`, { qos: 1 })
  first.client.end(true)
  const down = bridgeState(bridge, 'disconnected')
  await mosquitto.halt()
  await down
  return { mosquitto, wren, topic, bridge, subscriberId }
}

describe('outgoing reliability: QoS 1 waits in Wren while the remote is away', () => {
  it('1,000 QoS 1 messages published while Mosquitto restarts all arrive, once each', async () => {
    const { mosquitto, wren, topic, bridge, subscriberId } = await bridgeToHaltedMosquitto('queued', { maxQueued: 5000 })

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

/**
 * Flow control across a bridge (issue 11's rule: a message acknowledged on one node is delivered or kept, never
 * dropped because a queue further on was full). A QoS 1 flood of three times the local queue bound (maxQueued 1000)
 * goes to a reader on the far broker that reads nothing (paused, or offline with a persistent session) until
 * every message was acknowledged to the publisher.
 */
describe('a QoS 1 flood across a bridge to a slow reader loses nothing that was acknowledged', () => {
  const FLOOD = 3000

  /** Subscribes, then stops reading (its socket paused) until `resume()`. */
  async function slowReader(url: string, filter: string): Promise<{ reader: TestClient; resume(): void }> {
    const reader = await connectClient(url)
    await reader.client.subscribeAsync(filter, { qos: 1 })
    reader.client.stream.pause()
    return { reader, resume: () => reader.client.stream.resume() }
  }

  /** Publishes FLOOD QoS 1 messages (payload: their number) and resolves once each was acknowledged. */
  async function flood(url: string, topic: string): Promise<void> {
    const publisher = await connectClient(url)
    await Promise.all(Array.from({ length: FLOOD }, (_, i) => publisher.client.publishAsync(topic, String(i), { qos: 1 })))
  }

  async function allArrive(reader: TestClient, topic: string): Promise<void> {
    const seen = await distinctPayloads(reader.inbox, FLOOD, topic)
    expect(seen.size).toBe(FLOOD)
    expect(reader.inbox.received.filter((m) => m.topic === topic)).toHaveLength(FLOOD)
  }

  it('Wren -> Mosquitto, which restarts meanwhile, to a reader that is offline: the full bridge queue holds the publisher, nothing is dropped', async () => {
    const { mosquitto, wren, topic, bridge, subscriberId } = await bridgeToHaltedMosquitto('flood-restart')

    const publisher = await connectClient(wren.url)
    let acknowledged = 0
    let onAck = (): void => undefined
    const nearlyFull = new Promise<void>((resolve) => (onAck = () => ++acknowledged === 900 && resolve()))
    const all = Promise.all(Array.from({ length: FLOOD }, (_, i) => publisher.client.publishAsync(`${topic}/n`, String(i), { qos: 1 }).then(() => onAck())))
    // The remote comes back while the queue for it is filling up to maxQueued (1000) and the publisher is held there
    await nearlyFull
    await mosquitto.restart()
    await all
    const subscriber = await connectClient(mosquitto.url, { clientId: subscriberId, clean: false })
    await allArrive(subscriber, `${topic}/n`)
    expect(bridge.stats.dropped).toBe(0)
  }, 90_000)

  it("Mosquitto -> Wren through Wren's bridge: the full local queue holds the bridge, which holds back its acks to Mosquitto", async () => {
    const mosquitto = await startMosquitto()
    onTestFinished(() => mosquitto.stop())
    // The reader makes no progress while paused: not a slow consumer to cut off
    const wren = await startBroker({ drainTimeout: 600_000 })
    const topic = uniqueId('flood-in')
    const bridge = await connectedBridge(wren.broker, mosquitto.port, { topics: [{ pattern: `${topic}/#`, direction: 'in', qos: 1 }] })
    const { reader, resume } = await slowReader(wren.url, `${topic}/#`)
    await flood(mosquitto.url, `${topic}/n`)
    resume()
    await allArrive(reader, `${topic}/n`)
    expect(bridge.stats.dropped).toBe(0)
  }, 90_000)

  it("Mosquitto's bridge into Wren: Wren holds the bridging client while its reader's queue is full", async () => {
    const wren = await startBroker({ drainTimeout: 600_000 })
    const topic = uniqueId('flood-mosquitto')
    const mosquitto = await startMosquitto({
      config: ['connection to-wren', `address 127.0.0.1:${wren.port}`, `remote_clientid ${uniqueId('mosquitto-bridge')}`, `topic ${topic}/# out 1`, 'restart_timeout 1'],
    })
    onTestFinished(() => mosquitto.stop())
    const { reader, resume } = await slowReader(wren.url, `${topic}/#`)
    // The bridge subscribed on Mosquitto's side once a probe crosses it
    const probe = await connectClient(mosquitto.url)
    await probe.client.publishAsync(`${topic}/probe`, 'p', { qos: 1 })
    resume()
    await reader.inbox.next((m) => m.topic === `${topic}/probe`, 20_000)
    reader.client.stream.pause()
    await flood(mosquitto.url, `${topic}/n`)
    resume()
    await allArrive(reader, `${topic}/n`)
  }, 90_000)
})
