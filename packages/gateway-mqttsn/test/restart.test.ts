import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import type { Persistence } from '@wren/core'
import { createRedisPersistence } from '@wren/persistence-redis'
import { createSqlitePersistence } from '@wren/persistence-sqlite'
import { connectClient } from '../../core/test/helpers/clients.js'
import { startRedisServer } from '../../persistence-redis/test/redis-server.js'
import { MqttSnClient, ReturnCode, TopicIdType, type SnMessage } from '../src/index.js'
import { startGateway, type StartedGateway } from './helpers.js'

/** Stops the gateway, its socket and the broker (which closes the persistence adapter), as a process exit would. */
async function stop(gw: StartedGateway): Promise<void> {
  gw.gateway.close()
  gw.socket.close()
  await gw.close()
}

/**
 * A device with a kept session (CleanSession false) registers a topic, subscribes by name and by wildcard, then
 * the broker restarts on the same store; the device CONNECTs again and uses the ids it holds: its PUBLISH by
 * id is routed, and what it subscribed to arrives under the ids it knows, with no REGISTER before it.
 */
async function registrationsSurvive(open: () => Persistence | Promise<Persistence>, restartStore: () => Promise<void> = async () => {}): Promise<void> {
  const first = await startGateway({}, { persistence: await open() })
  const udpPort = first.udpPort
  const sn = await MqttSnClient.connect({ port: udpPort, clientId: 'keeper', cleanSession: false, retryInterval: 1000 })
  onTestFinished(() => sn.close())
  const plantA = await sn.register('plant/a')
  const plantB = (await sn.subscribe('plant/b', 1)).topicId
  await sn.subscribe('alarm/#', 1)
  const pub = await connectClient(first.url)
  await pub.client.publishAsync('alarm/fire', 'before', { qos: 1 })
  const alarm = await sn.nextMessage()
  expect([alarm.topic, alarm.payload.toString()]).toEqual(['alarm/fire', 'before'])
  // The ids are written with the session (the gateway does not wait for the store before answering the device).
  const saved = (): Promise<string | undefined> => first.broker.persistence.sessionDataGet('keeper', 'mqtt-sn:topics')
  await expect.poll(async () => JSON.parse((await saved()) ?? '{}')).toEqual({ [plantA]: 'plant/a', [plantB]: 'plant/b', [alarm.topicId]: 'alarm/fire' })
  // ... and the device's PUBACK reached the broker, so nothing is redelivered after the restart.
  await expect.poll(() => first.broker.persistence.outboundCount('keeper')).toBe(0)
  pub.client.end(true)
  await stop(first)
  await restartStore()

  const second = await startGateway({}, { persistence: await open() }, udpPort)
  const sub = await connectClient(second.url)
  await sub.client.subscribeAsync('plant/a', { qos: 1 })
  // The device does not know of the restart: its next PUBLISH is answered DISCONNECT, and it CONNECTs again.
  const told = sn.waitFor('disconnect')
  sn.send({ type: 'publish', dup: false, qos: 1, retain: false, topicIdType: TopicIdType.Normal, topicId: plantA, msgId: 77, payload: Buffer.from('lost') })
  await told
  const before = sn.received.length
  expect(await sn.connect()).toBe(ReturnCode.Accepted)
  expect(await sn.publish({ topicIdType: TopicIdType.Normal, topicId: plantA }, 'by kept id', { qos: 1 })).toBe(ReturnCode.Accepted)
  const routed = await sub.inbox.next(() => true, 5000)
  expect([routed.topic, routed.payload.toString()]).toEqual(['plant/a', 'by kept id'])
  await sub.client.publishAsync('plant/b', 'to b', { qos: 1 })
  await sub.client.publishAsync('alarm/fire', 'after', { qos: 1 })
  const b = await sn.nextMessage()
  const fire = await sn.nextMessage()
  expect([b.topicId, b.payload.toString(), fire.topicId, fire.payload.toString()]).toEqual([plantB, 'to b', alarm.topicId, 'after'])
  expect(sn.received.slice(before).some((m: SnMessage) => m.type === 'register')).toBe(false)
  await sn.disconnect()

  // A clean session starts without them: the id now names nothing.
  const fresh = await MqttSnClient.connect({ port: udpPort, clientId: 'keeper', cleanSession: true, retryInterval: 1000 })
  onTestFinished(() => fresh.close())
  expect(await fresh.publish({ topicIdType: TopicIdType.Normal, topicId: plantA }, 'stale id', { qos: 1 })).toBe(ReturnCode.InvalidTopicId)
  expect(await second.broker.persistence.sessionDataGet('keeper', 'mqtt-sn:topics')).toBeUndefined()
}

describe('MQTT-SN topic ids of a kept session survive a broker restart', () => {
  it('with SQLite: the same file after the restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wren-mqttsn-restart-'))
    onTestFinished(() => rm(dir, { recursive: true, force: true }))
    const path = join(dir, 'wren.db')
    await registrationsSurvive(() => createSqlitePersistence({ path }))
  })

  it('with Redis: the broker and redis-server (append-only file) both restart', async () => {
    const redis = await startRedisServer({ appendOnly: true })
    onTestFinished(() => redis.stop())
    await registrationsSurvive(
      () => createRedisPersistence({ url: redis.url }),
      async () => {
        await redis.kill()
        await redis.restart()
      },
    )
  })
})
