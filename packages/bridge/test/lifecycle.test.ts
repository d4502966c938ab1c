import { once } from 'node:events'
import type { Broker } from '@wren/core'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { connectClient, uniqueId, type TestClient } from '../../core/test/helpers/clients.js'
import { startBroker } from '../../core/test/helpers/start-broker.js'
import { freePort } from '../../persistence-redis/test/redis-server.js'
import { Bridge, type BridgeOptions } from '../src/index.js'
import { bridgeState, connectedBridge, tcpProxy } from './helpers.js'
import { startMosquitto, type MosquittoServer } from './mosquitto-server.js'

let mosquitto: MosquittoServer
beforeAll(async () => {
  mosquitto = await startMosquitto()
})
afterAll(() => mosquitto.stop())

function bridge(broker: Broker, options: Omit<BridgeOptions, 'name'>): Bridge {
  const name = uniqueId('bridge')
  const created = new Bridge(broker, { name, remoteClientId: name, ...options })
  onTestFinished(() => created.stop())
  return created
}

describe('bridge lifecycle', () => {
  it('reconnects with decorrelated jitter between base and cap, each attempt after the announced delay', async () => {
    const wren = await startBroker()
    const closed = await freePort()
    const b = bridge(wren.broker, { addresses: [`127.0.0.1:${closed}`], restartTimeout: { base: 0.05, cap: 0.4 }, topics: [{ pattern: 'a' }] })
    const attempts: Array<{ at: number; delay: number | undefined }> = []
    const done = new Promise<void>((resolve) =>
      b.on('disconnected', (_reason, delay) => {
        attempts.push({ at: performance.now(), delay })
        if (attempts.length === 6) resolve()
      }),
    )
    const connecting: number[] = []
    b.on('state', (state) => state === 'connecting' && connecting.push(performance.now()))
    await b.start()
    await done
    await b.stop()
    for (const { delay } of attempts) {
      expect(delay).toBeGreaterThanOrEqual(50)
      expect(delay).toBeLessThanOrEqual(400)
    }
    // The next attempt waits for the delay announced. Timers count whole milliseconds from the event loop's clock,
    // read when the loop woke up, which on a busy machine runs some milliseconds behind performance.now() here.
    for (let i = 0; i + 1 < connecting.length && i < attempts.length; i++) {
      expect((connecting[i + 1] as number) - (attempts[i] as { at: number }).at).toBeGreaterThanOrEqual((attempts[i] as { delay: number }).delay - 20)
    }
  })

  it('tries the next address when one fails', async () => {
    const wren = await startBroker()
    const closed = await freePort()
    const b = bridge(wren.broker, {
      addresses: [`127.0.0.1:${closed}`, `127.0.0.1:${mosquitto.port}`],
      restartTimeout: { base: 0.05, cap: 0.1 },
      topics: [{ pattern: 'a' }],
    })
    const connected = once(b, 'connected')
    await b.start()
    const [address] = (await connected) as [{ port: number }]
    expect(address.port).toBe(mosquitto.port)
  })

  it('without round robin, goes back to the main (first) address once it answers again', async () => {
    const wren = await startBroker()
    const mainPort = await freePort()
    const b = bridge(wren.broker, {
      addresses: [`127.0.0.1:${mainPort}`, `127.0.0.1:${mosquitto.port}`],
      restartTimeout: { base: 0.05, cap: 0.2 },
      topics: [{ pattern: 'a' }],
    })
    const ports: number[] = []
    const backOnMain = new Promise<void>((resolve) =>
      b.on('connected', (address) => {
        ports.push(address.port)
        if (address.port === mainPort) resolve()
      }),
    )
    await b.start()
    await bridgeState(b, 'connected')
    expect(ports).toEqual([mosquitto.port])
    await tcpProxy(mosquitto.port, { port: mainPort })
    await backOnMain
    expect(ports).toEqual([mosquitto.port, mainPort])
  })

  it('leaves from bindAddress (bridge_bind_address)', async () => {
    const wren = await startBroker()
    const proxy = await tcpProxy(mosquitto.port)
    await connectedBridge(wren.broker, proxy.port, { bindAddress: '127.0.0.2', topics: [{ pattern: 'a' }] })
    expect(proxy.peers).toEqual(['127.0.0.2'])
  })

  it("start type 'once' does not reconnect after the link fails", async () => {
    const wren = await startBroker()
    const proxy = await tcpProxy(mosquitto.port)
    const b = await connectedBridge(wren.broker, proxy.port, { startType: 'once', topics: [{ pattern: 'a' }] })
    const failed = once(b, 'disconnected')
    proxy.cut()
    const [, delay] = await failed
    expect(delay).toBeUndefined()
    expect(b.state).toBe('disconnected')
  })

  it("start type 'lazy' connects once `threshold` messages wait, and disconnects after `idleTimeout` seconds idle", async () => {
    const wren = await startBroker()
    const topic = uniqueId('lazy')
    const b = bridge(wren.broker, { addresses: [`127.0.0.1:${mosquitto.port}`], startType: 'lazy', threshold: 3, idleTimeout: 1, topics: [{ pattern: `${topic}/#`, qos: 1 }] })
    const states: string[] = []
    b.on('state', (state) => states.push(state))
    await b.start()
    const remote = await connectClient(mosquitto.url)
    await remote.client.subscribeAsync(`${topic}/#`, { qos: 1 })
    const local = await connectClient(wren.url)
    const connected = bridgeState(b, 'connected')
    for (let i = 0; i < 3; i++) await local.client.publishAsync(`${topic}/m`, String(i), { qos: 1 })
    await connected
    expect((await remote.inbox.take(3)).map((m) => m.payload.toString())).toEqual(['0', '1', '2'])
    await bridgeState(b, 'idle')
    expect(states).toEqual(['connecting', 'connected', 'idle'])
  })
})

describe('statistics', () => {
  it('publishes state and counters under $SYS/broker/bridge/<name>/ every sysInterval seconds', async () => {
    const wren = await startBroker()
    const topic = uniqueId('stats')
    const b = await connectedBridge(wren.broker, mosquitto.port, { sysInterval: 1, topics: [{ pattern: `${topic}/#`, qos: 1 }] })
    const local = await connectClient(wren.url)
    for (let i = 0; i < 3; i++) await local.client.publishAsync(`${topic}/m`, String(i), { qos: 1 })
    const watcher = await connectClient(wren.url)
    await watcher.client.subscribeAsync(`$SYS/broker/bridge/${b.name}/#`, { qos: 0 })
    const forwarded = `$SYS/broker/bridge/${b.name}/messages/forwarded`
    await watcher.inbox.next((m) => m.topic === forwarded && m.payload.toString() === '3', 10_000)
    const latest = new Map(watcher.inbox.received.map((m) => [m.topic.slice(`$SYS/broker/bridge/${b.name}/`.length), m.payload.toString()]))
    expect(latest.get('state')).toBe('connected')
    expect(latest.get('messages/dropped')).toBe('0')
    expect(latest.get('queued')).toBe('0')
  })
})

describe('hop limit (v5 user property wren-hops)', () => {
  /** Three Wren brokers bridged in a triangle, every edge 'both' on the same topics: a loop without the limit. */
  async function triangle(hopLimit: number, topic: string): Promise<{ subscribers: TestClient[]; url: string }> {
    const brokers = [await startBroker(), await startBroker(), await startBroker()]
    for (let i = 0; i < 3; i++) {
      const next = brokers[(i + 1) % 3] as Awaited<ReturnType<typeof startBroker>>
      await connectedBridge((brokers[i] as typeof next).broker, next.port, { protocolVersion: 5, hopLimit, topics: [{ pattern: `${topic}/#`, direction: 'both', qos: 1 }] })
    }
    const subscribers: TestClient[] = []
    for (const b of brokers) {
      const subscriber = await connectClient(b.url)
      await subscriber.client.subscribeAsync(`${topic}/#`, { qos: 1 })
      subscribers.push(subscriber)
    }
    return { subscribers, url: (brokers[0] as { url: string }).url }
  }

  const count = (client: TestClient, topic: string) => client.inbox.received.filter((m) => m.topic === topic).length

  it('hopLimit 1: a message crosses one bridge at most, so each broker of the triangle gets it once', async () => {
    const topic = uniqueId('tri')
    const { subscribers, url } = await triangle(1, topic)
    const [a, b, c] = subscribers as [TestClient, TestClient, TestClient]
    const publisher = await connectClient(url)
    await publisher.client.publishAsync(`${topic}/m`, 'x', { qos: 1 })
    for (const side of [a, b, c]) await side.inbox.next((m) => m.topic === `${topic}/m`, 5000)
    expect([count(a, `${topic}/m`), count(b, `${topic}/m`), count(c, `${topic}/m`)]).toEqual([1, 1, 1])
  })

  it('hopLimit 2: the loop ends after two crossings (B and C get the direct copy and the one around the triangle)', async () => {
    const topic = uniqueId('tri')
    const { subscribers, url } = await triangle(2, topic)
    const [a, b, c] = subscribers as [TestClient, TestClient, TestClient]
    const publisher = await connectClient(url)
    await publisher.client.publishAsync(`${topic}/m`, 'x', { qos: 1 })
    await publisher.client.publishAsync(`${topic}/marker`, 'end', { qos: 1 })
    // Each copy of the marker follows a copy of the message on the same path
    await b.inbox.take(2, (m) => m.topic === `${topic}/marker`, 5000)
    await c.inbox.take(2, (m) => m.topic === `${topic}/marker`, 5000)
    expect([count(a, `${topic}/m`), count(b, `${topic}/m`), count(c, `${topic}/m`)]).toEqual([1, 2, 2])
  })
})
