/**
 * What a bridge keeps across its own restart and what it sends to a remote that comes up late, against a real
 * Mosquitto (the cases of Mosquitto's 06-bridge-clean-session-*, 06-bridge-b2br-late-connection and
 * 06-bridge-b2br-late-connection-retain and 06-bridge-remote-shutdown, written afresh).
 */
import { once } from 'node:events'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { connectClient, uniqueId } from '../../core/test/helpers/clients.js'
import { startBroker } from '../../core/test/helpers/start-broker.js'
import { freePort } from '../../persistence-redis/test/redis-server.js'
import { Bridge, type BridgeOptions } from '../src/index.js'
import { tcpProxy } from './helpers.js'
import { startMosquitto, type MosquittoServer } from './mosquitto-server.js'

let mosquitto: MosquittoServer
beforeAll(async () => {
  mosquitto = await startMosquitto()
})
afterAll(() => mosquitto.stop())

describe('cleansession and local_cleansession across a restart of the bridge', () => {
  it.each([
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ])('cleanSession %s, localCleanSession %s', async (cleanSession, localCleanSession) => {
    const wren = await startBroker()
    const t = uniqueId('cs')
    const options = (): BridgeOptions => ({
      name: 'edge',
      remoteClientId: `${t}-remote`,
      localClientId: `${t}-local`,
      addresses: [`127.0.0.1:${mosquitto.port}`],
      restartTimeout: { base: 0.05, cap: 0.2 },
      cleanSession,
      localCleanSession,
      topics: [
        { pattern: `${t}/out/#`, direction: 'out', qos: 1 },
        { pattern: `${t}/in/#`, direction: 'in', qos: 1 },
      ],
    })
    const start = async (): Promise<Bridge> => {
      const bridge = new Bridge(wren.broker, options())
      onTestFinished(() => bridge.stop())
      const connected = once(bridge, 'connected')
      await bridge.start()
      await connected
      return bridge
    }
    const local = await connectClient(wren.url)
    await local.client.subscribeAsync(`${t}/in/#`, { qos: 1 })
    const remote = await connectClient(mosquitto.url)
    await remote.client.subscribeAsync(`${t}/out/#`, { qos: 1 })
    const first = await start()
    await local.client.publishAsync(`${t}/out/1`, 'x', { qos: 1 })
    await remote.client.publishAsync(`${t}/in/1`, 'x', { qos: 1 })
    await remote.inbox.next((m) => m.topic === `${t}/out/1`, 10_000)
    await local.inbox.next((m) => m.topic === `${t}/in/1`, 10_000)

    await first.stop()
    // Published while the bridge is away: kept by whichever side keeps the bridge's session
    await local.client.publishAsync(`${t}/out/2`, 'x', { qos: 1 })
    await remote.client.publishAsync(`${t}/in/2`, 'x', { qos: 1 })
    await start()
    await local.client.publishAsync(`${t}/out/3`, 'x', { qos: 1 })
    await remote.client.publishAsync(`${t}/in/3`, 'x', { qos: 1 })
    // What was kept is sent on reconnection, before anything newer
    await remote.inbox.next((m) => m.topic === `${t}/out/3`, 10_000)
    await local.inbox.next((m) => m.topic === `${t}/in/3`, 10_000)
    const topics = (inbox: typeof local.inbox) => inbox.received.map((m) => m.topic.slice(t.length + 1))
    expect(topics(remote.inbox)).toEqual(localCleanSession ? ['out/1', 'out/3'] : ['out/1', 'out/2', 'out/3'])
    expect(topics(local.inbox)).toEqual(cleanSession ? ['in/1', 'in/3'] : ['in/1', 'in/2', 'in/3'])
  })
})

describe('a remote that is not up when the bridge starts', () => {
  it('QoS 1 messages and a retained message published before the remote ever answered arrive once it does', async () => {
    const wren = await startBroker()
    const t = uniqueId('late')
    const publisher = await connectClient(wren.url)
    await publisher.client.publishAsync(`${t}/retained`, 'kept', { qos: 1, retain: true })
    const port = await freePort()
    const bridge = new Bridge(wren.broker, {
      name: t,
      addresses: [`127.0.0.1:${port}`],
      restartTimeout: { base: 0.05, cap: 0.2 },
      attemptUnsubscribe: false,
      notifications: false,
      topics: [{ pattern: `${t}/#`, qos: 1 }],
    })
    onTestFinished(() => bridge.stop())
    const failed = once(bridge, 'disconnected')
    await bridge.start()
    await failed
    await publisher.client.publishAsync(`${t}/queued`, 'waited', { qos: 1 })
    const remote = await connectClient(mosquitto.url)
    await remote.client.subscribeAsync(`${t}/#`, { qos: 1 })

    const connected = once(bridge, 'connected')
    await tcpProxy(mosquitto.port, { port })
    await connected
    const arrived = await remote.inbox.take(2, () => true, 10_000)
    expect(arrived.map((m) => `${m.topic}=${m.payload.toString()}`)).toEqual([`${t}/retained=kept`, `${t}/queued=waited`])
    // It went on as a retained message: Mosquitto keeps it for later subscribers
    const later = await connectClient(mosquitto.url)
    await later.client.subscribeAsync(`${t}/retained`, { qos: 1 })
    const retained = await later.inbox.next(() => true, 10_000)
    expect([retained.payload.toString(), retained.retain]).toEqual(['kept', true])
  })
})

describe('a remote that shuts down', () => {
  it.each([
    ['3.1.1', 4],
    ['5', 5],
  ] as const)('MQTT %s: notification 0 locally while it is down, 1 and forwarding again once it is back', async (_name, protocolVersion) => {
    const remoteBroker = await startMosquitto({ persistence: true })
    onTestFinished(() => remoteBroker.stop())
    const wren = await startBroker()
    const t = uniqueId('shutdown')
    const bridge = new Bridge(wren.broker, {
      name: t,
      remoteClientId: t,
      addresses: [`127.0.0.1:${remoteBroker.port}`],
      protocolVersion,
      restartTimeout: { base: 0.05, cap: 0.2 },
      notificationTopic: `${t}/state`,
      topics: [{ pattern: `${t}/echo`, direction: 'in', qos: 1 }],
    })
    onTestFinished(() => bridge.stop())
    const local = await connectClient(wren.url)
    await local.client.subscribeAsync(`${t}/#`, { qos: 1 })
    await bridge.start()
    const state = async (value: string) => expect((await local.inbox.next((m) => m.topic === `${t}/state`, 10_000)).payload.toString()).toBe(value)
    await state('1')
    // SIGTERM: Mosquitto closes its connections (MQTT 5: DISCONNECT 0x8B, server shutting down)
    await remoteBroker.halt()
    await state('0')
    await remoteBroker.restart()
    await state('1')
    const remote = await connectClient(remoteBroker.url)
    await remote.client.publishAsync(`${t}/echo`, 'again', { qos: 1 })
    expect((await local.inbox.next((m) => m.topic === `${t}/echo`, 10_000)).payload.toString()).toBe('again')
  })
})
