import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it, onTestFinished } from 'vitest'
import { connectClient } from '../../core/test/helpers/clients.js'
import { recordEvents } from '../../core/test/helpers/events.js'
import { MqttSnClient, ReturnCode, decodeDatagram, decodeUdpGatewayAddress, encodeMessage, encodeUdpGatewayAddress, type SnMessage } from '../src/index.js'
import { bindUdp, snClient, snClientId, startGateway } from './helpers.js'

const scapySearch = fileURLToPath(new URL('./fixtures/scapy_searchgw.py', import.meta.url))

describe('MQTT-SN gateway: discovery, QoS -1, authorization, limits, robustness', () => {
  it('answers SEARCHGW with GWINFO carrying its gateway id', async () => {
    const gw = await startGateway({ gatewayId: 9 })
    const sn = await snClient(gw, {}, false)
    expect(await sn.searchGateway(1)).toEqual({ type: 'gwinfo', gatewayId: 9 })
  })

  it('a client that knows its gateway answers another client\'s SEARCHGW with GWINFO carrying GwAdd (§6.1); the searcher connects there', async () => {
    const gw = await startGateway({ gatewayId: 9 })
    const helper = await snClient(gw, { answerSearchGw: { maxDelay: 20 } })
    expect(helper.gatewayId).toBeUndefined()
    expect(await helper.discoverGateway('127.0.0.1', gw.udpPort)).toEqual({ gatewayId: 9, address: '127.0.0.1', port: gw.udpPort, answeredBy: 'gateway' })
    expect(helper.gatewayId).toBe(9)
    // A newcomer's SEARCHGW reaches the helper (as a broadcast would): the helper answers with the gateway's address.
    const newcomer = await MqttSnClient.open({ port: 1, clientId: 'newcomer' })
    onTestFinished(() => newcomer.close())
    const found = await newcomer.discoverGateway('127.0.0.1', helper.localPort)
    expect(found).toEqual({ gatewayId: 9, address: '127.0.0.1', port: gw.udpPort, answeredBy: 'client' })
    const joined = await MqttSnClient.connect({ port: found.port, host: found.address, clientId: 'newcomer' })
    onTestFinished(() => joined.close())
    expect(gw.gateway.clients().map((c) => c.clientId).sort()).toEqual([helper.options.clientId, 'newcomer'].sort())
    // scapy, an independent decoder, reads the helper's GWINFO: id, and GwAdd as IPv4 address and port.
    const { stdout } = await promisify(execFile)('/usr/bin/python3', [scapySearch, String(helper.localPort)], { timeout: 30_000 })
    const port = Buffer.alloc(2)
    port.writeUInt16BE(gw.udpPort)
    expect(JSON.parse(stdout)).toEqual(['GWINFO', 9, 9, `7f000001${port.toString('hex')}`])
    expect(decodeUdpGatewayAddress(encodeUdpGatewayAddress('::ffff:10.0.0.1', 1884))).toEqual({ address: '0:0:0:0:0:ffff:a00:1', port: 1884 })
    expect(decodeUdpGatewayAddress(Buffer.from([10, 0, 0, 2]))).toEqual({ address: '10.0.0.2', port: undefined })
  })

  it('sends no ADVERTISE unless configured; when configured, to the given address with the interval as duration', async () => {
    const listener = await bindUdp()
    const received = once(listener, 'message')
    const gw = await startGateway({ gatewayId: 4, advertise: { address: '127.0.0.1', port: listener.address().port, interval: 900 } })
    const [bytes] = (await received) as [Buffer]
    expect(decodeDatagram(bytes).message).toEqual({ type: 'advertise', gatewayId: 4, duration: 900 })
    expect(gw.gateway.stats.datagramsSent).toBe(1)
    listener.close()
    const quiet = await startGateway()
    expect(quiet.gateway.stats.datagramsSent).toBe(0)
  })

  it('QoS -1: a client that never connected publishes to a short name and a predefined id', async () => {
    const gw = await startGateway({ predefined: { 3: 'beacons/b1' } })
    const sub = await connectClient(gw.url)
    await sub.client.subscribeAsync(['bb', 'beacons/b1'])
    const sn = await snClient(gw, { predefined: { 3: 'beacons/b1' } }, false)
    await sn.publish('bb', 'short', { qos: -1 })
    await sn.publish('beacons/b1', 'predefined', { qos: -1 })
    const got = await sub.inbox.take(2)
    expect(got.map((m) => [m.topic, m.payload.toString(), m.qos])).toEqual([
      ['bb', 'short', 0],
      ['beacons/b1', 'predefined', 0],
    ])
    expect(gw.broker.clients().find((c) => c.id === 'mqtt-sn-qos-1')?.meta.transport).toBe('mqtt-sn')
  })

  it('QoS -1 switched off: such PUBLISHes are dropped and counted', async () => {
    const gw = await startGateway({ qosMinus1: false })
    const events = recordEvents(gw.broker)
    const sn = await snClient(gw, {}, false)
    await sn.publish('bb', 'x', { qos: -1 })
    await expect.poll(() => gw.gateway.stats.datagramsDropped).toBe(1)
    expect(events.connected.received).toEqual([])
  })

  it('QoS -1 with a login the broker refuses: dropped and counted, and the refusal is not retried for every datagram', async () => {
    let logins = 0
    const gw = await startGateway(
      { credentials: () => ({ username: 'beacons', password: Buffer.from('wrong') }), retryInterval: 60_000 },
      { hooks: { authenticate: () => (logins++, false) } },
    )
    const sn = await snClient(gw, {}, false)
    await sn.publish('bb', 'first', { qos: -1 })
    await expect.poll(() => logins).toBe(1)
    await expect.poll(() => gw.broker.clients().length).toBe(0)
    for (let i = 0; i < 5; i++) await sn.publish('bb', 'more', { qos: -1 })
    await expect.poll(() => gw.gateway.stats.datagramsReceived).toBe(6)
    expect([logins, gw.gateway.stats.datagramsDropped]).toEqual([1, 5])
    // A client id the credentials callback refuses never reaches the broker at all.
    const refusing = await startGateway({ credentials: () => false })
    const other = await snClient(refusing, {}, false)
    await other.publish('bb', 'x', { qos: -1 })
    await expect.poll(() => refusing.gateway.stats.datagramsDropped).toBe(1)
    expect(refusing.broker.clients()).toEqual([])
  })

  it('a publish or subscribe the broker denies gets "rejected: not supported"; the ACL sees the client id and mapped username', async () => {
    const seen: Array<[string, string | undefined]> = []
    const gw = await startGateway(
      // Async, as a lookup in a device registry would be.
      { credentials: async (clientId) => (clientId === 'acl-dev' ? { username: 'device-user', password: Buffer.from('pw') } : clientId === 'banned' ? false : undefined) },
      {
        hooks: {
          authenticate: (client, credentials) => {
            seen.push([client.id, credentials.username])
            return credentials.password?.toString() === 'pw'
          },
          authorizePublish: (_client, message) => !message.topic.startsWith('secret/'),
          authorizeSubscribe: (_client, subscription) => !subscription.filter.startsWith('secret/'),
        },
      },
    )
    const sn = await snClient(gw, { clientId: 'acl-dev' })
    expect(seen).toEqual([['acl-dev', 'device-user']])
    expect(await sn.publish('secret/x', 'no', { qos: 1 })).toBe(ReturnCode.NotSupported)
    expect(await sn.publish('secret/x', 'no', { qos: 2 })).toBe(ReturnCode.NotSupported)
    expect(await sn.publish('open/x', 'yes', { qos: 1 })).toBe(ReturnCode.Accepted)
    expect((await sn.subscribe('secret/#', 1)).returnCode).toBe(ReturnCode.NotSupported)
    expect((await sn.subscribe('open/#', 1)).returnCode).toBe(ReturnCode.Accepted)
    // A client the authenticate hook refuses gets CONNACK "not supported".
    const stranger = await snClient(gw, {}, false)
    expect(await stranger.connect()).toBe(ReturnCode.NotSupported)
    // One the credentials callback refuses never reaches the broker.
    const banned = await snClient(gw, { clientId: 'banned' }, false)
    expect(await banned.connect()).toBe(ReturnCode.NotSupported)
    expect(seen.map(([id]) => id)).not.toContain('banned')
    expect(gw.gateway.clients().map((c) => c.clientId)).toEqual(['acl-dev'])
  })

  it('limits: clients (CONNACK congestion), registrations (REGACK congestion), client id length', async () => {
    const gw = await startGateway({ maxClients: 1, maxRegistrationsPerClient: 1 })
    const sn = await snClient(gw)
    await sn.register('one')
    const refused = sn.register('two')
    await expect(refused).rejects.toThrow(/return code 1/)
    const second = await snClient(gw, {}, false)
    expect(await second.connect()).toBe(ReturnCode.Congestion)
    await sn.disconnect()
    const tooLong = await snClient(gw, { clientId: 'x'.repeat(24) }, false)
    expect(await tooLong.connect()).toBe(ReturnCode.NotSupported)
  })

  it('limits: datagrams over maxDatagramSize are dropped both ways, and counted', async () => {
    const gw = await startGateway({ maxDatagramSize: 64 })
    const sub = await connectClient(gw.url)
    await sub.client.subscribeAsync('big')
    const sn = await snClient(gw)
    await sn.subscribe('big', 0)
    sn.send({ type: 'publish', dup: false, qos: 0, retain: false, topicIdType: 0, topicId: 1, msgId: 0, payload: Buffer.alloc(100) })
    await expect.poll(() => gw.gateway.stats.datagramsMalformed).toBe(1)
    await sub.client.publishAsync('big', Buffer.alloc(100))
    await sub.client.publishAsync('big', 'small')
    expect((await sn.nextMessage()).payload.toString()).toBe('small')
    expect(gw.gateway.stats.messagesDropped).toBe(1)
  })

  it('a QoS 1 PUBLISH beyond maxInflightPerClient is answered "rejected: congestion"', async () => {
    let release: () => void = () => {}
    const held = new Promise<boolean>((resolve) => {
      release = () => resolve(true)
    })
    const gw = await startGateway({ maxInflightPerClient: 1 }, { hooks: { authorizePublish: (_c, message) => (message.topic === 'slow' ? held : true) } })
    const sn = await snClient(gw)
    const first = sn.publish('slow', '1', { qos: 1 })
    await expect.poll(() => gw.gateway.stats.publishesReceived).toBe(1)
    expect(await sn.publish('slow', '2', { qos: 1 })).toBe(ReturnCode.Congestion)
    release()
    expect(await first).toBe(ReturnCode.Accepted)
  })

  it('a message from an address with no client gets DISCONNECT (§5.4.21), except a DISCONNECT or a gateway\'s message', async () => {
    const gw = await startGateway()
    const stranger = await snClient(gw, { clientId: 'never-connected', retryInterval: 300, maxRetries: 0 }, false)
    const told = stranger.waitFor('disconnect')
    stranger.send({ type: 'publish', dup: false, qos: 1, retain: false, topicIdType: 0, topicId: 1, msgId: 1, payload: Buffer.from('x') })
    await told
    expect(await stranger.wake().then(
      () => 'pingresp',
      (error: Error) => error.message,
    )).toMatch(/no pingresp/)
    expect(stranger.received.filter((m) => m.type === 'disconnect').length).toBeGreaterThanOrEqual(2)
    const sent = gw.gateway.stats.datagramsSent
    stranger.send({ type: 'disconnect' })
    stranger.send({ type: 'connack', returnCode: 0 })
    await expect.poll(() => gw.gateway.stats.datagramsReceived).toBeGreaterThanOrEqual(4)
    expect(gw.gateway.stats.datagramsSent).toBe(sent)
  })

  it('malformed datagrams are dropped and counted; other clients and the gateway carry on', async () => {
    const gw = await startGateway()
    const sub = await connectClient(gw.url)
    await sub.client.subscribeAsync('alive')
    const good = await snClient(gw)
    const bad = await snClient(gw)
    const garbage = [[], [0x00], [0x05, 0x0c], [0x03, 0x99, 0x00], [0x01, 0x00, 0x02, 0x0c], [0x07, 0x04, 0x04, 0x05, 0, 1, 0x61]]
    for (const bytes of garbage) bad.sendRaw(Buffer.from(bytes))
    await expect.poll(() => gw.gateway.stats.datagramsMalformed).toBe(garbage.length)
    expect(await good.publish('alive', 'yes', { qos: 1 })).toBe(ReturnCode.Accepted)
    expect((await sub.inbox.next()).payload.toString()).toBe('yes')
    // The sender of garbage is still connected, too: its well-formed datagrams work.
    await bad.ping()
  })

  it('serves clients behind a forwarder: encapsulated in, encapsulated replies out, one client per wireless node', async () => {
    const gw = await startGateway()
    const sub = await connectClient(gw.url)
    await sub.client.subscribeAsync('node/#')
    const a = await snClient(gw, { clientId: 'node-a', forwarder: { ctrl: 0, wirelessNodeId: Buffer.from([1]) } }, false)
    const replies: Buffer[] = []
    a.socket.on('message', (bytes: Buffer) => replies.push(bytes))
    expect(await a.connect()).toBe(ReturnCode.Accepted)
    expect(replies[0]?.[1]).toBe(0xfe)
    expect(decodeDatagram(replies[0] as Buffer).forwarder?.wirelessNodeId?.equals(Buffer.from([1]))).toBe(true)
    // A second node behind the same forwarder socket is a separate client.
    const b = new MqttSnClient(a.socket, { port: gw.udpPort, clientId: 'node-b', forwarder: { ctrl: 0, wirelessNodeId: Buffer.from([2]) } })
    expect(await b.connect()).toBe(ReturnCode.Accepted)
    expect(gw.gateway.clients().map((c) => c.clientId).sort()).toEqual(['node-a', 'node-b'])
    await a.publish('node/a', 'from a', { qos: 1 })
    expect((await sub.inbox.next()).topic).toBe('node/a')
  })

  it('CleanSession false: the subscription and topic ids outlive a DISCONNECT; queued QoS 1 messages arrive on reconnect', async () => {
    const gw = await startGateway()
    const clientId = snClientId('persistent')
    const sn = await snClient(gw, { clientId, cleanSession: false })
    const { topicId } = await sn.subscribe('p/topic', 1)
    await sn.disconnect()
    const pub = await connectClient(gw.url)
    await pub.client.publishAsync('p/topic', 'queued', { qos: 1 })
    const again = await snClient(gw, { clientId, cleanSession: false })
    const message = await again.nextMessage()
    expect([message.topicId, message.payload.toString()]).toEqual([topicId, 'queued'])
    expect(again.received.some((m: SnMessage) => m.type === 'register')).toBe(false)
  })

  it('publishes $SYS/broker/mqtt-sn/... counters, and SN clients count in the broker\'s clients', async () => {
    const gw = await startGateway({ sysInterval: 1 })
    const sn = await snClient(gw)
    await sn.sleep(60)
    await snClient(gw)
    const sub = await connectClient(gw.url)
    await sub.client.subscribeAsync('$SYS/broker/mqtt-sn/clients/+')
    const seen = new Map<string, string>()
    while (seen.get('$SYS/broker/mqtt-sn/clients/connected') !== '1' || seen.get('$SYS/broker/mqtt-sn/clients/asleep') !== '1') {
      const m = await sub.inbox.next(() => true, 5000)
      seen.set(m.topic, m.payload.toString())
    }
    expect(gw.broker.clients().filter((c) => c.meta.transport === 'mqtt-sn')).toHaveLength(2)
  })

  it('an MQTT client taking over an SN client\'s id ends the SN session; the SN client is told DISCONNECT', async () => {
    const gw = await startGateway()
    const sn = await snClient(gw, { clientId: 'shared-id' })
    // Waiting from before the takeover: a DISCONNECT that arrives while connectClient settles is not waited for later.
    const told = sn.waitFor('disconnect', 30_000)
    await connectClient(gw.url, { clientId: 'shared-id' })
    await told
    expect(gw.gateway.clients()).toEqual([])
  })

  it('a host that closes its socket first ends the gateway: clients\' sessions end, nothing is sent into the closed socket', async () => {
    const gw = await startGateway({ retryInterval: 100, advertise: { address: '127.0.0.1', port: 9, interval: 1 } })
    const events = recordEvents(gw.broker)
    const sn = await snClient(gw, { duration: 1 })
    gw.socket.close()
    await events.disconnected.next((e) => e.client.id === sn.options.clientId)
    expect(gw.gateway.clients()).toEqual([])
  })

  it('encodes replies that the codec decodes byte-exactly (spot check of a CONNACK on the wire)', async () => {
    const gw = await startGateway()
    const sn = await snClient(gw, {}, false)
    const replies: Buffer[] = []
    sn.socket.on('message', (bytes: Buffer) => replies.push(bytes))
    sn.sendRaw(encodeMessage({ type: 'connect', will: false, cleanSession: true, duration: 10, clientId: 'wire' }))
    await sn.waitFor('connack')
    expect([...(replies[0] as Buffer)]).toEqual([0x03, 0x05, 0x00])
  })
})
