import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectClient, uniqueId } from '../../core/test/helpers/clients.js'
import { startBroker } from '../../core/test/helpers/start-broker.js'
import { connectedBridge, bridgeState, tcpProxy } from './helpers.js'
import { startMosquitto, type MosquittoServer } from './mosquitto-server.js'

const text = (m: { topic: string; payload: Buffer }) => `${m.topic}=${m.payload.toString()}`

describe('a Wren bridge to Mosquitto', () => {
  let mosquitto: MosquittoServer
  beforeAll(async () => {
    mosquitto = await startMosquitto()
  })
  afterAll(() => mosquitto.stop())

  it.each([
    ['MQTT 3.1', 3],
    ['MQTT 3.1.1', 4],
    ['MQTT 5', 5],
  ] as const)('%s link: out and in, with prefixes, keeping QoS up to the rule maximum', async (_name, version) => {
    const wren = await startBroker()
    const site = uniqueId('site')
    await connectedBridge(wren.broker, mosquitto.port, {
      protocolVersion: version,
      topics: [
        { pattern: 'sensors/#', direction: 'out', qos: 1, localPrefix: 'local/', remotePrefix: `${site}/up/` },
        { pattern: 'cmd/#', direction: 'in', qos: 2, localPrefix: 'local/', remotePrefix: `${site}/down/` },
      ],
    })
    const remote = await connectClient(mosquitto.url, { protocolVersion: 4 })
    await remote.client.subscribeAsync(`${site}/#`, { qos: 2 })
    const local = await connectClient(wren.url)
    await local.client.subscribeAsync('local/#', { qos: 2 })

    await local.client.publishAsync('local/sensors/t1', '21.5', { qos: 2 })
    const up = await remote.inbox.next((m) => m.topic.startsWith(`${site}/up/`))
    expect([text(up), up.qos]).toEqual([`${site}/up/sensors/t1=21.5`, 1])

    await remote.client.publishAsync(`${site}/down/cmd/reboot`, 'now', { qos: 2 })
    const down = await local.inbox.next((m) => m.topic.startsWith('local/cmd/'))
    expect([text(down), down.qos]).toEqual(['local/cmd/reboot=now', 2])
  })

  it("is a client of the local broker like any other: its hooks authenticate it and decide what it may publish", async () => {
    const seen: Array<[string | undefined, unknown]> = []
    const wren = await startBroker({
      hooks: {
        authenticate: (client, { username, password }) => {
          seen.push([username, client.meta.transport])
          return username === 'bridge' && password?.toString() === 'secret'
        },
        authorizePublish: (_client, message) => !message.topic.startsWith('in/private/'),
      },
    })
    const site = uniqueId('site')
    await connectedBridge(wren.broker, mosquitto.port, {
      localUsername: 'bridge',
      localPassword: 'secret',
      notificationsLocalOnly: true,
      topics: [{ pattern: '#', direction: 'in', qos: 1, localPrefix: 'in/', remotePrefix: `${site}/` }],
    })
    expect(seen).toEqual([['bridge', 'bridge']])
    const local = await connectClient(wren.url, { username: 'bridge', password: 'secret' })
    await local.client.subscribeAsync('in/#', { qos: 1 })
    const remote = await connectClient(mosquitto.url)
    await remote.client.publishAsync(`${site}/private/key`, 'no', { qos: 1 })
    await remote.client.publishAsync(`${site}/public/news`, 'yes', { qos: 1 })
    // Same link, same order: had the first one been let in, it would be read first
    expect(text(await local.inbox.next())).toBe('in/public/news=yes')
  })

  it('maps one topic to another with the empty pattern ("" out 1 local/one remote/other)', async () => {
    const wren = await startBroker()
    const remoteTopic = `${uniqueId('other')}/topic`
    await connectedBridge(wren.broker, mosquitto.port, { topics: [{ pattern: '', direction: 'out', qos: 1, localPrefix: 'local/one', remotePrefix: remoteTopic }] })
    const remote = await connectClient(mosquitto.url)
    await remote.client.subscribeAsync(`${remoteTopic}/#`, { qos: 1 })
    await remote.client.subscribeAsync(remoteTopic, { qos: 1 })
    const local = await connectClient(wren.url)
    await local.client.publishAsync('local/one/deeper', 'not bridged', { qos: 1 })
    await local.client.publishAsync('local/one', 'bridged', { qos: 1 })
    expect(text(await remote.inbox.next())).toBe(`${remoteTopic}=bridged`)
    expect(remote.inbox.unread).toEqual([])
  })

  it('propagates retained messages both ways, and clears the flag with outgoingRetain false', async () => {
    const wren = await startBroker()
    const site = uniqueId('site')
    await connectedBridge(wren.broker, mosquitto.port, {
      topics: [
        { pattern: 'state/#', direction: 'out', qos: 1, remotePrefix: `${site}/` },
        { pattern: 'config/#', direction: 'in', qos: 1, remotePrefix: `${site}/` },
      ],
    })
    const local = await connectClient(wren.url)
    await local.client.publishAsync('state/door', 'open', { qos: 1, retain: true })
    const remotePublisher = await connectClient(mosquitto.url)
    await remotePublisher.client.publishAsync(`${site}/config/rate`, '10', { qos: 1, retain: true })

    // Late subscribers on each side get them as retained messages
    const remote = await connectClient(mosquitto.url)
    await remote.client.subscribeAsync(`${site}/state/#`, { qos: 1 })
    const door = await remote.inbox.next()
    expect([text(door), door.retain]).toEqual([`${site}/state/door=open`, true])
    const late = await connectClient(wren.url)
    await late.client.subscribeAsync('config/#', { qos: 1 })
    const rate = await late.inbox.next()
    expect([text(rate), rate.retain]).toEqual(['config/rate=10', true])

    const plain = await startBroker()
    await connectedBridge(plain.broker, mosquitto.port, { outgoingRetain: false, topics: [{ pattern: 'state/#', qos: 1, remotePrefix: `${site}/plain/` }] })
    const plainPublisher = await connectClient(plain.url)
    await plainPublisher.client.publishAsync('state/window', 'closed', { qos: 1, retain: true })
    const check = await connectClient(mosquitto.url)
    await check.client.subscribeAsync(`${site}/plain/#`, { qos: 1 })
    await remotePublisher.client.publishAsync(`${site}/plain/marker`, 'm', { qos: 1 })
    // Not retained remotely: the late subscriber only sees the live marker
    expect(text(await check.inbox.next())).toBe(`${site}/plain/marker=m`)
  })

  it('notifications: retained 1 locally and remotely when up, 0 locally when the link fails, 0 as its will on the remote', async () => {
    const wren = await startBroker()
    const proxy = await tcpProxy(mosquitto.port)
    const bridge = await connectedBridge(wren.broker, proxy.port, { topics: [{ pattern: 'x/#' }] })
    const topic = `$SYS/broker/connection/${bridge.options.remoteClientId}/state`
    const local = await connectClient(wren.url)
    await local.client.subscribeAsync(topic, { qos: 1 })
    const remote = await connectClient(mosquitto.url)
    await remote.client.subscribeAsync(topic, { qos: 1 })
    expect([text(await local.inbox.next()), text(await remote.inbox.next())]).toEqual([`${topic}=1`, `${topic}=1`])

    const down = bridgeState(bridge, 'disconnected')
    proxy.cut()
    await down
    expect(text(await local.inbox.next())).toBe(`${topic}=0`)
    // Mosquitto saw the connection die without DISCONNECT: the bridge's will
    const will = await remote.inbox.next()
    expect([text(will), will.retain]).toEqual([`${topic}=0`, false])
    // Reconnects by itself (backoff) and says so again
    expect(text(await remote.inbox.next())).toBe(`${topic}=1`)
    expect(text(await local.inbox.next())).toBe(`${topic}=1`)
  })

  it('uses the bridge bit on 3.1.1 (try_private), and connects without it when the remote refuses it', async () => {
    const wren = await startBroker()
    const accepting = await tcpProxy(mosquitto.port)
    const withBit = await connectedBridge(wren.broker, accepting.port, { topics: [{ pattern: 'a/#' }] })
    expect(accepting.connects.map((c) => (c as { bridgeMode?: boolean }).bridgeMode === true)).toEqual([true])
    await withBit.stop()

    const refusing = await tcpProxy(mosquitto.port, { refuseBridgeBit: true })
    const site = uniqueId('site')
    const events: boolean[] = []
    const bridge = await connectedBridge(wren.broker, refusing.port, { topics: [{ pattern: 'a/#', qos: 1, remotePrefix: `${site}/` }] })
    bridge.on('connected', (_address, bit) => events.push(bit))
    expect(refusing.connects.map((c) => (c as { bridgeMode?: boolean }).bridgeMode === true)).toEqual([true, false])
    // ... and it works as a plain client
    const remote = await connectClient(mosquitto.url)
    await remote.client.subscribeAsync(`${site}/#`, { qos: 1 })
    const local = await connectClient(wren.url)
    await local.client.publishAsync('a/b', 'plain', { qos: 1 })
    expect(text(await remote.inbox.next())).toBe(`${site}/a/b=plain`)
    expect(events).toEqual([])
  })

  it.each([
    ['a v5 link (No Local)', { protocolVersion: 5 as const }],
    ['a try_private 3.1.1 link (bridge bit)', { protocolVersion: 4 as const, tryPrivate: true }],
  ])('both directions on the same topics over %s: each message once on each side', async (_name, link) => {
    const wren = await startBroker()
    const site = uniqueId('loop')
    await connectedBridge(wren.broker, mosquitto.port, { ...link, topics: [{ pattern: `${site}/#`, direction: 'both', qos: 1 }] })
    const local = await connectClient(wren.url)
    await local.client.subscribeAsync(`${site}/#`, { qos: 1 })
    const remote = await connectClient(mosquitto.url)
    await remote.client.subscribeAsync(`${site}/#`, { qos: 1 })

    for (let i = 0; i < 20; i++) await local.client.publishAsync(`${site}/from-wren`, String(i), { qos: 1 })
    for (let i = 0; i < 20; i++) await remote.client.publishAsync(`${site}/from-mosquitto`, String(i), { qos: 1 })
    await remote.inbox.take(40, () => true, 10_000)
    await local.inbox.take(40, () => true, 10_000)
    // Markers travel the same links after everything else: an echo would arrive before them
    await local.client.publishAsync(`${site}/marker`, 'wren', { qos: 1 })
    await remote.client.publishAsync(`${site}/marker`, 'mosquitto', { qos: 1 })
    await remote.inbox.take(2, (m) => m.topic === `${site}/marker`, 10_000)
    await local.inbox.take(2, (m) => m.topic === `${site}/marker`, 10_000)
    for (const side of [local, remote]) {
      const counts = new Map<string, number>()
      for (const m of side.inbox.received) counts.set(text(m), (counts.get(text(m)) ?? 0) + 1)
      expect([...counts.values()].every((n) => n === 1)).toBe(true)
      expect(counts.size).toBe(42)
    }
  })
})
