import { describe, expect, it } from 'vitest'
import { closesWithin, connectClient, RawClient } from './helpers/clients.js'
import { startBroker } from './helpers/start-broker.js'

const will = (topic: string, qos: 0 | 1 | 2 = 1, retain = false) => ({ topic, payload: Buffer.from(`will-of-${topic}`), qos, retain })

describe('will messages', () => {
  it('publishes the will when the keepalive expires', async () => {
    const b = await startBroker()
    const watcher = await connectClient(b.url)
    await watcher.client.subscribeAsync('will/#', { qos: 2 })
    const started = Date.now()
    await RawClient.connect(b.port, { keepalive: 1, will: will('will/keepalive') })
    const message = await watcher.inbox.next((m) => m.topic === 'will/keepalive', 4000)
    expect(message.payload.toString()).toBe('will-of-will/keepalive')
    // 1.5 x keepalive, not at once
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000)
  })

  it('publishes the will when the connection drops without DISCONNECT', async () => {
    const b = await startBroker()
    const watcher = await connectClient(b.url)
    await watcher.client.subscribeAsync('will/#', { qos: 2 })
    const { raw } = await RawClient.connect(b.port, { will: will('will/dropped') })
    raw.destroy()
    expect((await watcher.inbox.next((m) => m.topic === 'will/dropped')).payload.toString()).toBe('will-of-will/dropped')
  })

  it('publishes the will of an MQTT.js client whose socket is destroyed', async () => {
    const b = await startBroker()
    const watcher = await connectClient(b.url)
    await watcher.client.subscribeAsync('will/#', { qos: 2 })
    const dying = await connectClient(b.url, { will: will('will/mqttjs') })
    dying.client.stream.destroy()
    await watcher.inbox.next((m) => m.topic === 'will/mqttjs')
  })

  it('publishes the will when the broker closes the connection for a protocol violation', async () => {
    const b = await startBroker()
    const watcher = await connectClient(b.url)
    await watcher.client.subscribeAsync('will/#', { qos: 2 })
    const { raw } = await RawClient.connect(b.port, { will: will('will/violation') })
    raw.write([0x00, 0x00]) // packet type 0 is reserved [MQTT-2.2.1]
    expect(await raw.closesWithin(2000)).toBe(true)
    await watcher.inbox.next((m) => m.topic === 'will/violation')
  })

  it('does not publish the will after DISCONNECT [MQTT-3.14.4-3]', async () => {
    const b = await startBroker()
    const watcher = await connectClient(b.url)
    await watcher.client.subscribeAsync('will/#', { qos: 2 })
    const { raw } = await RawClient.connect(b.port, { will: will('will/clean-exit') })
    raw.send({ cmd: 'disconnect' })
    expect(await raw.closesWithin(2000)).toBe(true)
    const mqttjs = await connectClient(b.url, { will: will('will/clean-exit-mqttjs') })
    await mqttjs.client.endAsync()
    expect(await closesWithin(mqttjs.closed, 2000)).toBe(true)
    await watcher.inbox.expectNone(600)
  })

  it.each([0, 1, 2] as const)('publishes the will at its QoS %i', async (qos) => {
    const b = await startBroker()
    const watcher = await connectClient(b.url)
    await watcher.client.subscribeAsync('will/#', { qos: 2 })
    const { raw } = await RawClient.connect(b.port, { will: will(`will/q${qos}`, qos) })
    raw.destroy()
    const message = await watcher.inbox.next()
    expect([message.topic, message.qos]).toEqual([`will/q${qos}`, qos])
  })

  it('retains a will with the retain flag', async () => {
    const b = await startBroker()
    const { raw } = await RawClient.connect(b.port, { will: will('will/retained', 1, true) })
    const live = await connectClient(b.url)
    await live.client.subscribeAsync('will/retained', { qos: 1 })
    raw.destroy()
    await live.inbox.next()
    const later = await connectClient(b.url)
    await later.client.subscribeAsync('will/retained', { qos: 1 })
    const message = await later.inbox.next()
    expect([message.payload.toString(), message.retain]).toEqual(['will-of-will/retained', true])
  })

  it('does not retain a will without the retain flag', async () => {
    const b = await startBroker()
    const { raw } = await RawClient.connect(b.port, { will: will('will/not-retained', 1, false) })
    const live = await connectClient(b.url)
    await live.client.subscribeAsync('will/not-retained', { qos: 1 })
    raw.destroy()
    expect((await live.inbox.next()).retain).toBe(false)
    const later = await connectClient(b.url)
    await later.client.subscribeAsync('will/not-retained', { qos: 1 })
    await later.inbox.expectNone(300)
  })
})
