import { once } from 'node:events'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { createRedisBridgeLease } from '../../cluster-redis/src/index.js'
import { connectClient, uniqueId } from '../../core/test/helpers/clients.js'
import { startBroker } from '../../core/test/helpers/start-broker.js'
import { startRedisServer, type RedisServer } from '../../persistence-redis/test/redis-server.js'
import { Bridge, type BridgeOptions } from '../src/index.js'
import { bridgeState } from './helpers.js'
import { startMosquitto, type MosquittoServer } from './mosquitto-server.js'

let redis: RedisServer
let mosquitto: MosquittoServer
beforeAll(async () => {
  redis = await startRedisServer()
  mosquitto = await startMosquitto()
})
afterAll(async () => {
  await mosquitto.stop()
  await redis.stop()
})

describe('one node runs each bridge (lease in Redis)', () => {
  it('the second node waits; when the first stops renewing, the bridge moves to the second within the lease', async () => {
    const name = uniqueId('leased')
    const topic = uniqueId('moved')
    const options: Omit<BridgeOptions, 'lease'> = {
      name,
      remoteClientId: name,
      addresses: [`127.0.0.1:${mosquitto.port}`],
      restartTimeout: { base: 0.05, cap: 0.2 },
      sysInterval: 1,
      topics: [{ pattern: `${topic}/#`, qos: 1 }],
    }
    const node = async (nodeId: string) => {
      const wren = await startBroker()
      const lease = createRedisBridgeLease({ url: redis.url, nodeId, ttlMs: 600, renewMs: 100 })
      onTestFinished(() => lease.close())
      const bridge = new Bridge(wren.broker, { ...options, lease })
      onTestFinished(() => bridge.stop())
      return { wren, lease, bridge }
    }
    const first = await node('n1')
    const second = await node('n2')
    const connected = once(first.bridge, 'connected')
    await first.bridge.start()
    await connected
    await second.bridge.start()
    expect([first.bridge.state, second.bridge.state]).toEqual(['connected', 'idle'])

    // n1 loses Redis (as a dead or partitioned node would): it stands down, and n2 takes over once the lease expires
    const takenOver = bridgeState(second.bridge, 'connected')
    await first.lease.close()
    await bridgeState(first.bridge, 'idle')
    await takenOver
    const remote = await connectClient(mosquitto.url)
    await remote.client.subscribeAsync(`${topic}/#`, { qos: 1 })
    const publisher = await connectClient(second.wren.url)
    await publisher.client.publishAsync(`${topic}/x`, 'from n2', { qos: 1 })
    expect((await remote.inbox.next()).payload.toString()).toBe('from n2')

    // Only the node running the bridge reports it in $SYS (in a cluster both would write the same retained topics):
    // while n2 reports twice, n1 reports nothing more
    const stateTopic = `$SYS/broker/bridge/${name}/state`
    const watchers = await Promise.all([first, second].map((n) => connectClient(n.wren.url)))
    await Promise.all(watchers.map((w) => w.client.subscribeAsync(stateTopic, { qos: 0 })))
    const [onFirst, onSecond] = watchers as [(typeof watchers)[number], (typeof watchers)[number]]
    await onSecond.inbox.take(3, (m) => m.payload.toString() === 'connected', 10_000)
    expect(onFirst.inbox.received.filter((m) => !m.retain)).toEqual([])
  })

  it('a node that stops its bridge releases the lease: another node takes over at its next renewal', async () => {
    const name = uniqueId('released')
    const base = { name, remoteClientId: name, addresses: [`127.0.0.1:${mosquitto.port}`], topics: [{ pattern: 'r/#' }] }
    const leases = ['a', 'b'].map((nodeId) => createRedisBridgeLease({ url: redis.url, nodeId, ttlMs: 60_000, renewMs: 100 }))
    onTestFinished(async () => {
      await Promise.all(leases.map((lease) => lease.close()))
    })
    const [a, b] = await Promise.all([startBroker(), startBroker()])
    const first = new Bridge(a!.broker, { ...base, lease: leases[0] })
    const second = new Bridge(b!.broker, { ...base, lease: leases[1] })
    onTestFinished(async () => {
      await Promise.all([first.stop(), second.stop()])
    })
    await first.start()
    await second.start()
    await bridgeState(first, 'connected')
    expect(second.state).toBe('idle')
    const takenOver = bridgeState(second, 'connected')
    await first.stop()
    // well before the 60 s lease would have expired
    await takenOver
  })
})
