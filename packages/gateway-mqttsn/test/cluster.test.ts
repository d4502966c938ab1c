import { describe, expect, it, onTestFinished } from 'vitest'
import { createRedisPersistence } from '@wren/persistence-redis'
import { createRedisCluster } from '../../cluster-redis/src/index.js'
import { connectClient } from '../../core/test/helpers/clients.js'
import { startRedisServer } from '../../persistence-redis/test/redis-server.js'
import { MqttSnClient, ReturnCode, TopicIdType, type SnMessage } from '../src/index.js'
import { startGateway, type StartedGateway } from './helpers.js'

/** Node `at` routes to `clientId`'s subscriptions, wherever they were made. */
const knows = (at: StartedGateway, clientId: string): Promise<void> =>
  expect.poll(() => at.broker.admin.subscriptions({ clientId }).length, { timeout: 30_000 }).toBeGreaterThan(0)

describe('MQTT-SN clients in a cluster', () => {
  it('are sessions of the cluster: messages cross nodes both ways, and a kept session with its topic ids moves to another node\'s gateway', async () => {
    const redis = await startRedisServer()
    onTestFinished(() => redis.stop())
    // A lease a loaded machine keeps (as in cluster-redis's own tests).
    const node = (nodeId: string): Promise<StartedGateway> =>
      startGateway({}, { cluster: createRedisCluster({ url: redis.url, prefix: 'sn:', nodeId, leaseMs: 4000, heartbeatMs: 500 }), persistence: createRedisPersistence({ url: redis.url }) })
    const a = await node('a')
    const b = await node('b')

    const sn = await MqttSnClient.connect({ port: a.udpPort, clientId: 'roamer', cleanSession: false, retryInterval: 1000 })
    onTestFinished(() => sn.close())
    const { topicId: cmdId } = await sn.subscribe('cmd/roamer', 1)
    const upId = await sn.register('up/roamer')
    const onB = await connectClient(b.url)
    await onB.client.subscribeAsync('up/#', { qos: 1 })
    // A subscription reaches the other nodes' routers through Redis a moment after its SUBACK.
    await knows(a, onB.client.options.clientId as string)
    await knows(b, 'roamer')
    expect(await sn.publish('up/roamer', 'from a', { qos: 1 })).toBe(ReturnCode.Accepted)
    expect((await onB.inbox.next(() => true, 5000)).payload.toString()).toBe('from a')
    await onB.client.publishAsync('cmd/roamer', 'from b', { qos: 1 })
    const cmd = await sn.nextMessage()
    expect([cmd.topicId, cmd.payload.toString()]).toEqual([cmdId, 'from b'])
    await expect.poll(async () => JSON.parse((await a.broker.persistence.sessionDataGet('roamer', 'mqtt-sn:topics')) ?? '{}')).toEqual({
      [cmdId]: 'cmd/roamer',
      [upId]: 'up/roamer',
    })
    await sn.disconnect()

    // The device now reaches node b's gateway: same session, same ids, no REGISTER.
    const moved = await MqttSnClient.connect({ port: b.udpPort, clientId: 'roamer', cleanSession: false, retryInterval: 1000 })
    onTestFinished(() => moved.close())
    expect(await moved.publish({ topicIdType: TopicIdType.Normal, topicId: upId }, 'from b too', { qos: 1 })).toBe(ReturnCode.Accepted)
    expect((await onB.inbox.next(() => true, 5000)).payload.toString()).toBe('from b too')
    const onA = await connectClient(a.url)
    await onA.client.publishAsync('cmd/roamer', 'from a', { qos: 1 })
    const again = await moved.nextMessage()
    expect([again.topicId, again.payload.toString()]).toEqual([cmdId, 'from a'])
    expect(moved.received.some((m: SnMessage) => m.type === 'register')).toBe(false)
  })
})
