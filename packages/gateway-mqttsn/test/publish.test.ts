import { describe, expect, it } from 'vitest'
import { connectClient } from '../../core/test/helpers/clients.js'
import { ReturnCode, TopicIdType } from '../src/index.js'
import { snClient, startGateway } from './helpers.js'

describe('MQTT-SN gateway: PUBLISH from an MQTT-SN client', () => {
  it('delivers QoS 0, 1 and 2 to a TCP subscriber; the client is a broker session over transport mqtt-sn', async () => {
    const gw = await startGateway()
    const sub = await connectClient(gw.url)
    await sub.client.subscribeAsync('sensors/#', { qos: 2 })
    const sn = await snClient(gw, { clientId: 'sensor-a' })
    expect(gw.broker.clients().find((c) => c.id === 'sensor-a')?.meta.transport).toBe('mqtt-sn')
    expect(await sn.publish('sensors/a/temp', '20.5', { qos: 0 })).toBe(ReturnCode.Accepted)
    expect(await sn.publish('sensors/a/temp', '21.0', { qos: 1 })).toBe(ReturnCode.Accepted)
    expect(await sn.publish('sensors/a/temp', '21.5', { qos: 2, retain: true })).toBe(ReturnCode.Accepted)
    const got = await sub.inbox.take(3)
    expect(got.map((m) => [m.topic, m.payload.toString(), m.qos])).toEqual([
      ['sensors/a/temp', '20.5', 0],
      ['sensors/a/temp', '21.0', 1],
      ['sensors/a/temp', '21.5', 2],
    ])
    const late = await connectClient(gw.url)
    await late.client.subscribeAsync('sensors/a/temp')
    const retained = await late.inbox.next()
    expect([retained.payload.toString(), retained.retain]).toEqual(['21.5', true])
  })

  it('answers an unknown or reserved topic id with "rejected: invalid topic id"', async () => {
    const gw = await startGateway()
    const sn = await snClient(gw)
    for (const topicId of [0x0000, 0xffff, 0x1234]) {
      expect(await sn.publish({ topicIdType: TopicIdType.Normal, topicId }, 'x', { qos: 1 })).toBe(ReturnCode.InvalidTopicId)
    }
    expect(await sn.publish({ topicIdType: TopicIdType.Predefined, topicId: 7 }, 'x', { qos: 1 })).toBe(ReturnCode.InvalidTopicId)
    expect(gw.gateway.stats.publishesRejected).toBe(4)
  })
})
