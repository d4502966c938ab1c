import { describe, expect, it } from 'vitest'
import { connectClient } from '../../core/test/helpers/clients.js'
import { recordEvents } from '../../core/test/helpers/events.js'
import { MqttSnClient, ReturnCode } from '../src/index.js'
import { snClient, startGateway } from './helpers.js'

describe('MQTT-SN gateway: sleeping clients (§6.14)', () => {
  it('buffers while asleep; PINGREQ with the client id (from another port) gets REGISTERs, the PUBLISHes, then PINGRESP last', async () => {
    const gw = await startGateway()
    const sn = await snClient(gw, { clientId: 'sleeper', cleanSession: true })
    await sn.subscribe('cfg/#', 1)
    await sn.sleep(60)
    expect(gw.gateway.clients().map((c) => c.state)).toEqual(['asleep'])
    const pub = await connectClient(gw.url)
    await pub.client.publishAsync('cfg/interval', '30', { qos: 1 })
    await pub.client.publishAsync('cfg/mode', 'eco', { qos: 0 })
    await expect.poll(() => gw.gateway.clients()[0]?.buffered).toBe(2)
    expect(sn.received.filter((m) => m.type === 'publish')).toEqual([])
    sn.close()

    // The device wakes on a new socket: same client, new port.
    const woken = await MqttSnClient.open({ port: gw.udpPort, clientId: 'sleeper', retryInterval: 1000 })
    await woken.wake()
    const order = woken.received.map((m) => m.type)
    expect(order).toEqual(['register', 'publish', 'register', 'publish', 'pingresp'])
    const first = await woken.nextMessage()
    const second = await woken.nextMessage()
    expect([first.topic, first.payload.toString(), first.qos]).toEqual(['cfg/interval', '30', 1])
    expect([second.topic, second.payload.toString(), second.qos]).toEqual(['cfg/mode', 'eco', 0])
    expect(gw.gateway.clients().map((c) => [c.state, c.port])).toEqual([['asleep', woken.localPort]])
    woken.close()
  })

  it('a PINGREQ naming a sleeping client from another host does not wake it', async () => {
    const gw = await startGateway()
    const sn = await snClient(gw, { clientId: 'guarded' })
    await sn.sleep(60)
    const stranger = await MqttSnClient.open({ port: gw.udpPort, clientId: 'guarded', localAddress: '127.0.0.2', retryInterval: 200, maxRetries: 0 })
    await expect(stranger.wake()).rejects.toThrow(/no pingresp/)
    stranger.close()
    expect(gw.gateway.clients().map((c) => [c.state, c.address])).toEqual([['asleep', '127.0.0.1']])
    await sn.wake()
  })

  it('holds at most maxBufferedPerSleeper messages: new QoS 0 ones are dropped, a QoS 1 one replaces the oldest QoS 0', async () => {
    const gw = await startGateway({ maxBufferedPerSleeper: 2 })
    const sn = await snClient(gw)
    await sn.subscribe('many', 1)
    await sn.sleep(60)
    const pub = await connectClient(gw.url)
    for (let i = 0; i < 5; i++) await pub.client.publishAsync('many', String(i))
    await expect.poll(() => gw.gateway.stats.messagesDropped).toBe(3)
    await pub.client.publishAsync('many', 'q1', { qos: 1 })
    await expect.poll(() => gw.gateway.stats.messagesDropped).toBe(4)
    await sn.wake()
    expect([(await sn.nextMessage()).payload.toString(), (await sn.nextMessage()).payload.toString()]).toEqual(['1', 'q1'])
    expect(sn.inbox).toEqual([])
  })

  it('a sleeper never holds publishers back: its QoS 1 messages are taken into the gateway\'s buffer, the excess dropped', async () => {
    // A broker queue far smaller than what arrives: without custody, the publisher would be held back.
    const gw = await startGateway({ maxBufferedPerSleeper: 3 }, { maxQueued: 5, drainTimeout: 600_000 })
    const events = recordEvents(gw.broker)
    const sn = await snClient(gw)
    await sn.subscribe('busy', 2)
    await sn.sleep(60)
    const pub = await connectClient(gw.url)
    await Promise.all(Array.from({ length: 30 }, (_, i) => pub.client.publishAsync('busy', String(i), { qos: i % 2 === 0 ? 1 : 2 })))
    await expect.poll(() => gw.gateway.stats.messagesDropped).toBe(27)
    await sn.wake()
    const got = [await sn.nextMessage(), await sn.nextMessage(), await sn.nextMessage()]
    expect(got.map((m) => [m.payload.toString(), m.qos])).toEqual([
      ['0', 1],
      ['1', 2],
      ['2', 1],
    ])
    expect(events.disconnected.received).toEqual([])
    // The QoS 2 one completed with the client: PUBREL from the gateway, answered with PUBCOMP.
    expect(sn.received.filter((m) => m.type === 'pubrel')).toHaveLength(1)
  })

  it('a CONNECT makes a sleeping client active and delivers what was buffered', async () => {
    const gw = await startGateway()
    const sn = await snClient(gw, { cleanSession: false })
    await sn.subscribe('s/t', 1)
    await sn.sleep(60)
    const pub = await connectClient(gw.url)
    await pub.client.publishAsync('s/t', 'while asleep', { qos: 1 })
    await expect.poll(() => gw.gateway.clients()[0]?.buffered).toBe(1)
    expect(await sn.connect()).toBe(ReturnCode.Accepted)
    expect((await sn.nextMessage()).payload.toString()).toBe('while asleep')
    expect(gw.gateway.clients().map((c) => c.state)).toEqual(['active'])
  })

  it('a sleeping client that does not wake within its duration is lost and its will is published', async () => {
    const gw = await startGateway({ keepaliveGrace: 1, retryInterval: 200 })
    const sub = await connectClient(gw.url)
    await sub.client.subscribeAsync('w/sleep')
    const sn = await snClient(gw, { will: { topic: 'w/sleep', payload: 'overslept', qos: 0, retain: false } })
    await sn.sleep(1)
    const will = await sub.inbox.next(() => true, 10_000)
    expect(will.payload.toString()).toBe('overslept')
    expect(gw.gateway.clients()).toEqual([])
  })

  it('a client may publish while awake and go back to sleep', async () => {
    const gw = await startGateway()
    const sub = await connectClient(gw.url)
    await sub.client.subscribeAsync('up')
    const sn = await snClient(gw)
    await sn.sleep(60)
    await sn.wake()
    expect(await sn.publish('up', 'reading', { qos: 1 })).toBe(ReturnCode.Accepted)
    expect((await sub.inbox.next()).payload.toString()).toBe('reading')
    await sn.sleep(60)
    expect(gw.gateway.clients().map((c) => c.state)).toEqual(['asleep'])
  })
})
