import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedisCluster } from '../../cluster-redis/src/index.js'
import { connectClient } from '../../core/test/helpers/clients.js'
import { startBroker, type StartedBroker } from '../../core/test/helpers/start-broker.js'
import { createRedisPersistence } from '../../persistence-redis/src/index.js'
import { startRedisServer, type RedisServer } from '../../persistence-redis/test/redis-server.js'
import { createMetrics } from '../src/index.js'
import { sample } from './helpers/exposition.js'

let redis: RedisServer

beforeAll(async () => {
  redis = await startRedisServer()
})
afterAll(async () => {
  await redis?.stop()
})

async function startNode(nodeId: string, prefix: string): Promise<StartedBroker> {
  return startBroker({
    sysInterval: 1,
    cluster: createRedisCluster({ url: redis.url, prefix, nodeId, leaseMs: 600, heartbeatMs: 150 }),
    persistence: createRedisPersistence({ url: redis.url, prefix }),
  })
}

describe('metrics and $SYS in a cluster', () => {
  it('labels each node\'s metrics with its id and keeps each node\'s $SYS values apart', async () => {
    const prefix = `obs-${process.pid}-${Date.now()}:`
    const a = await startNode('node-a', prefix)
    const b = await startNode('node-b', prefix)
    await connectClient(b.url)
    const watcher = await connectClient(a.url)
    await watcher.client.subscribeAsync('$SYS/brokers/+/clients/connected', { qos: 0 })
    const seen = new Map<string, string>()
    while (seen.get('$SYS/brokers/node-a/clients/connected') !== '1' || seen.get('$SYS/brokers/node-b/clients/connected') !== '1') {
      const message = await watcher.inbox.next(() => true, 5000, 'per-node $SYS values')
      seen.set(message.topic, message.payload.toString())
    }

    const textA = await createMetrics(a.broker).metrics()
    const textB = await createMetrics(b.broker).metrics()
    expect(sample(textA, 'wren_clients_connected', { node: 'node-a' })).toBe(1)
    expect(sample(textB, 'wren_clients_connected', { node: 'node-b' })).toBe(1)
    expect(sample(textA, 'process_resident_memory_bytes', { node: 'node-a' })).toBeGreaterThan(0)
    expect(textA).not.toContain('node="node-b"')
    expect(sample(await createMetrics(a.broker, { node: false, defaultMetrics: false }).metrics(), 'wren_clients_connected')).toBe(1)
  })
})
