import { connectAsync, type MqttClient } from 'mqtt'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startRedisServer, type RedisServer } from '../../persistence-redis/test/redis-server.js'
import { runWren, startWren, type WrenProcess } from './helpers/wren-process.js'

let redis: RedisServer
const running: WrenProcess[] = []
const clients: MqttClient[] = []

beforeAll(async () => {
  redis = await startRedisServer()
})
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.endAsync(true)))
  await Promise.all(running.splice(0).map((wren) => wren.stop()))
})
afterAll(async () => {
  await redis?.stop()
})

/** Each test gets its own Redis database, so no cluster state leaks from one test into the next. */
async function wren(db: number, args: string[] = []): Promise<WrenProcess> {
  const started = await startWren(['--no-ws', '--cluster', `${redis.url}/${db}`, '--log-level', 'info', ...args])
  running.push(started)
  return started
}

async function client(url: string, clientId: string): Promise<MqttClient> {
  const connected = await connectAsync(url, { clientId, reconnectPeriod: 0, connectTimeout: 5000 })
  clients.push(connected)
  return connected
}

const PROBE = 'probe:'

/**
 * Subscriptions reach the other nodes through Redis pub/sub. Waits for the event that says they have: each
 * publisher's probe on `topic` arriving at every subscriber. A round of probes is sent again if one is missing
 * after a second (QoS 0 to a node that did not know the subscription yet is gone); bounded in rounds.
 */
async function untilSubscriptionsSpread(publishers: MqttClient[], subscribers: MqttClient[], topic: string): Promise<void> {
  const missing = new Set(subscribers.flatMap((_, s) => publishers.map((_, p) => `${s}<${p}`)))
  let arrived = (): void => {}
  subscribers.forEach((subscriber, s) => {
    subscriber.on('message', (_topic, payload) => {
      const text = payload.toString()
      if (!text.startsWith(PROBE)) return
      missing.delete(`${s}<${text.slice(PROBE.length)}`)
      if (missing.size === 0) arrived()
    })
  })
  for (let round = 0; round < 20 && missing.size > 0; round++) {
    const all = new Promise<void>((resolve) => (arrived = resolve))
    await Promise.all(publishers.map((publisher, p) => publisher.publishAsync(topic, `${PROBE}${p}`, { qos: 0 })))
    await Promise.race([all, new Promise((resolve) => setTimeout(resolve, 1000))])
  }
  if (missing.size > 0) throw new Error(`subscriptions did not reach every node: no probe for ${[...missing].join(', ')}`)
}

/** Collects the payloads a client receives, probes left out, until `count` arrived. */
function collect(subscriber: MqttClient, count: number, timeoutMs = 10_000): Promise<string[]> {
  const payloads: string[] = []
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`got ${payloads.length} of ${count}: ${payloads.join(',')}`)), timeoutMs)
    subscriber.on('message', (_topic, payload) => {
      if (payload.toString().startsWith(PROBE)) return
      payloads.push(payload.toString())
      if (payloads.length === count) {
        clearTimeout(timer)
        resolve(payloads)
      }
    })
  })
}

describe('wren --cluster', () => {
  it('two processes on two ports share one Redis and behave as one broker', async () => {
    const [a, b] = await Promise.all([wren(1, ['--node-id', 'node-a']), wren(1, ['--node-id', 'node-b'])])
    expect(a.logs.find((line) => line.msg === 'broker started')).toMatchObject({ brokerId: 'node-a', persistence: 'redis', cluster: true })

    const onA = await client(a.urls.tcp!, 'sub-a')
    const onB = await client(b.urls.tcp!, 'sub-b')
    await onA.subscribeAsync('news/#', { qos: 1 })
    await onB.subscribeAsync('news/#', { qos: 1 })
    const pubA = await client(a.urls.tcp!, 'pub-a')
    const pubB = await client(b.urls.tcp!, 'pub-b')
    await untilSubscriptionsSpread([pubA, pubB], [onA, onB], 'news/probe')

    const receivedA = collect(onA, 4)
    const receivedB = collect(onB, 4)
    await pubA.publishAsync('news/a', 'a1', { qos: 1 })
    await pubB.publishAsync('news/b', 'b1', { qos: 1 })
    await pubA.publishAsync('news/a', 'a2', { qos: 0 })
    await pubB.publishAsync('news/b', 'b2', { qos: 0 })
    for (const payloads of await Promise.all([receivedA, receivedB])) {
      expect(payloads.toSorted()).toEqual(['a1', 'a2', 'b1', 'b2'])
    }
  })

  it('refuses a store other than Redis', async () => {
    const { code, stderr } = await runWren(['--cluster', redis.url, '--persistence', 'memory'])
    expect(code).toBe(2)
    expect(stderr).toContain('cluster needs Redis persistence')
  })
})

describe('wren --workers', () => {
  it('workers share one port; clients on any worker see each other; SIGTERM stops all and exits 0', async () => {
    const wrenProcess = await wren(2, ['--workers', '2', '--node-id', 'w', '--log-level', 'debug'])
    // Two Node processes loading the server: seconds apart on a busy CI machine (10 s was missed at load 38).
    await wrenProcess.waitForLog((line) => line.msg === 'all workers started', 30_000)
    const workerIds = new Set(
      wrenProcess.logs.filter((line) => line.msg === 'broker started').map((line) => line.brokerId),
    )
    expect(workerIds).toEqual(new Set(['w-1', 'w-2']))
    const url = wrenProcess.urls.tcp!

    const connected = await Promise.all(Array.from({ length: 6 }, (_, i) => client(url, `c${i}`)))
    await Promise.all(connected.map((c) => c.subscribeAsync('room', { qos: 1 })))
    await untilSubscriptionsSpread(connected, connected, 'room')
    const received = connected.map((c) => collect(c, connected.length))
    for (const [i, c] of connected.entries()) await c.publishAsync('room', `from-c${i}`, { qos: 1 })
    const expected = connected.map((_, i) => `from-c${i}`)
    for (const payloads of await Promise.all(received)) expect(payloads.toSorted()).toEqual(expected)

    // Worth something only if the kernel spread the connections (round robin on Linux) over both workers.
    const workersUsed = new Set(
      wrenProcess.logs.filter((line) => line.msg === 'client connected').map((line) => line.worker),
    )
    expect(workersUsed).toEqual(new Set([1, 2]))

    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)))
    wrenProcess.child.kill('SIGTERM')
    const exit = await wrenProcess.exited
    expect(exit).toEqual({ code: 0, signal: null })
    expect(wrenProcess.logs.some((line) => line.msg === 'all workers stopped')).toBe(true)
  }, 60_000)

  it('refuses workers without a cluster (exit 2)', async () => {
    const { code, stderr } = await runWren(['--workers', '2'])
    expect(code).toBe(2)
    expect(stderr).toContain('workers need cluster')
  })
})
