/**
 * The bridge's remote session across a broken link, against a scripted remote that answers CONNECT and
 * SUBSCRIBE and lets the test decide every ack (cases of Mosquitto's 06-bridge-fail-persist-resend-qos1/2 and
 * 06-bridge-br2b-disconnect-qos2, written afresh).
 */
import { once } from 'node:events'
import net from 'node:net'
import { generate, parser as createParser, type IPublishPacket, type Packet } from 'mqtt-packet'
import { describe, expect, it, onTestFinished } from 'vitest'
import { Inbox } from '../../core/test/helpers/inbox.js'
import { connectClient, uniqueId } from '../../core/test/helpers/clients.js'
import { startBroker } from '../../core/test/helpers/start-broker.js'
import { Bridge } from '../src/index.js'
import { connectedBridge } from './helpers.js'

interface ScriptedRemote {
  port: number
  /** Every packet from every connection, in order, with the connection's number (from 1). */
  packets: Inbox<{ connection: number; packet: Packet }>
  send(packet: Packet): void
  sendBytes(bytes: Buffer): void
  /** Drops the current connection without a word, as a network failure would. */
  cut(): void
  /** Ends the current connection after what was sent to it (FIN, no DISCONNECT). */
  end(): void
}

/** `refuseSubscriptions`: every SUBACK says 0x80 (failure), as a remote whose ACL denies the filter does. */
async function scriptedRemote({ refuseSubscriptions = false } = {}): Promise<ScriptedRemote> {
  const packets = new Inbox<{ connection: number; packet: Packet }>((p) => `${p.connection}:${p.packet.cmd}`)
  let current: net.Socket | null = null
  let connections = 0
  const server = net.createServer((socket) => {
    const number = ++connections
    current = socket
    socket.on('error', () => {})
    const parser = createParser({ protocolVersion: 4 })
    parser.on('packet', (packet: Packet) => {
      packets.push({ connection: number, packet })
      if (packet.cmd === 'connect') socket.write(generate({ cmd: 'connack', returnCode: 0, sessionPresent: number > 1 }))
      if (packet.cmd === 'subscribe') socket.write(generate({ cmd: 'suback', messageId: packet.messageId, granted: packet.subscriptions.map((s) => (refuseSubscriptions ? 0x80 : s.qos)) }))
      if (packet.cmd === 'unsubscribe') socket.write(generate({ cmd: 'unsuback', messageId: packet.messageId, granted: [] }))
    })
    socket.on('data', (chunk: Buffer) => parser.parse(chunk))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  onTestFinished(() => {
    current?.destroy()
    server.close()
  })
  return {
    port: (server.address() as net.AddressInfo).port,
    packets,
    send: (packet) => current?.write(generate(packet)),
    sendBytes: (bytes) => current?.write(bytes),
    cut: () => current?.destroy(),
    end: () => current?.end(),
  }
}

const on = (connection: number, cmd: string) => (p: { connection: number; packet: Packet }) => p.connection === connection && p.packet.cmd === cmd

describe('the remote session survives a broken link', () => {
  it('QoS 2 out: an unacknowledged PUBLISH is resent with DUP and the same id, then a PUBREL after PUBREC', async () => {
    const remote = await scriptedRemote()
    const wren = await startBroker()
    const bridge = await connectedBridge(wren.broker, remote.port, { notifications: false, topics: [{ pattern: 'q2/#', qos: 2 }] })
    const local = await connectClient(wren.url)
    await local.client.publishAsync('q2/a', 'once', { qos: 2 })

    const first = (await remote.packets.next(on(1, 'publish'))).packet as IPublishPacket
    expect([first.topic, first.qos, first.dup]).toEqual(['q2/a', 2, false])
    remote.cut()
    const again = (await remote.packets.next(on(2, 'publish'), 5000)).packet as IPublishPacket
    expect([again.topic, again.messageId, again.dup]).toEqual(['q2/a', first.messageId, true])
    remote.send({ cmd: 'pubrec', messageId: again.messageId })
    const release = (await remote.packets.next(on(2, 'pubrel'))).packet
    remote.cut()
    // PUBREC was received: after the next reconnect only the PUBREL is resent, never the message
    const releaseAgain = (await remote.packets.next(on(3, 'pubrel'), 5000)).packet
    expect(releaseAgain.messageId).toBe(release.messageId)
    expect(remote.packets.received.filter((p) => p.connection === 3 && p.packet.cmd === 'publish')).toEqual([])
    remote.send({ cmd: 'pubcomp', messageId: release.messageId })
    remote.end()
    // Complete now: the next session resumes with nothing to resend (its resends would precede the UNSUBSCRIBE)
    await remote.packets.next(on(4, 'unsubscribe'), 5000)
    expect(remote.packets.received.filter((p) => p.connection === 4 && ['publish', 'pubrel'].includes(p.packet.cmd))).toEqual([])
    expect(bridge.stats.forwarded).toBe(1)
  })

  it('QoS 1 out: an unacknowledged PUBLISH is resent with DUP and the same id, and no more once acknowledged', async () => {
    const remote = await scriptedRemote()
    const wren = await startBroker()
    const bridge = await connectedBridge(wren.broker, remote.port, { notifications: false, topics: [{ pattern: 'q1/#', qos: 1 }] })
    const local = await connectClient(wren.url)
    await local.client.publishAsync('q1/a', 'x', { qos: 1 })
    const sent = (await remote.packets.next(on(1, 'publish'))).packet as IPublishPacket
    remote.cut()
    const resent = (await remote.packets.next(on(2, 'publish'), 5000)).packet as IPublishPacket
    expect([resent.messageId, resent.dup]).toEqual([sent.messageId, true])
    expect(bridge.queued + bridge.stats.forwarded).toBe(0)
    remote.send({ cmd: 'puback', messageId: resent.messageId })
    remote.end()
    await remote.packets.next(on(3, 'unsubscribe'), 5000)
    expect(remote.packets.received.filter((p) => p.connection === 3 && p.packet.cmd === 'publish')).toEqual([])
    expect(bridge.stats.forwarded).toBe(1)
  })

  it('QoS 1 in: a PUBLISH the remote resends with DUP after a reconnect is acknowledged again and delivered (at least once)', async () => {
    const remote = await scriptedRemote()
    const wren = await startBroker()
    const topic = uniqueId('in')
    await connectedBridge(wren.broker, remote.port, { notifications: false, topics: [{ pattern: `${topic}/#`, direction: 'in', qos: 1 }] })
    const local = await connectClient(wren.url)
    await local.client.subscribeAsync(`${topic}/#`, { qos: 1 })
    remote.send({ cmd: 'publish', topic: `${topic}/a`, payload: Buffer.from('x'), qos: 1, messageId: 9, retain: false, dup: false })
    expect((await remote.packets.next(on(1, 'puback'))).packet.messageId).toBe(9)
    remote.cut()
    await remote.packets.next(on(2, 'subscribe'), 5000)
    remote.send({ cmd: 'publish', topic: `${topic}/a`, payload: Buffer.from('x'), qos: 1, messageId: 9, retain: false, dup: true })
    expect((await remote.packets.next(on(2, 'puback'))).packet.messageId).toBe(9)
    expect((await local.inbox.next()).payload.toString()).toBe('x')
  })

  it('QoS 2 in: a PUBLISH the remote resends after a reconnect reaches local subscribers once', async () => {
    const remote = await scriptedRemote()
    const wren = await startBroker()
    const topic = uniqueId('in')
    await connectedBridge(wren.broker, remote.port, { notifications: false, topics: [{ pattern: `${topic}/#`, direction: 'in', qos: 2 }] })
    const local = await connectClient(wren.url)
    await local.client.subscribeAsync(`${topic}/#`, { qos: 2 })
    remote.send({ cmd: 'publish', topic: `${topic}/a`, payload: Buffer.from('once'), qos: 2, messageId: 7, retain: false, dup: false })
    await remote.packets.next(on(1, 'pubrec'))
    remote.cut()
    await remote.packets.next(on(2, 'subscribe'), 5000)
    // The remote did not see the PUBREC (as far as it knows): it sends the message again
    remote.send({ cmd: 'publish', topic: `${topic}/a`, payload: Buffer.from('once'), qos: 2, messageId: 7, retain: false, dup: true })
    expect((await remote.packets.next(on(2, 'pubrec'))).packet.messageId).toBe(7)
    remote.send({ cmd: 'pubrel', messageId: 7 })
    await remote.packets.next(on(2, 'pubcomp'))
    remote.send({ cmd: 'publish', topic: `${topic}/marker`, payload: Buffer.from('m'), qos: 1, messageId: 8, retain: false, dup: false })
    await local.inbox.next((m) => m.topic === `${topic}/marker`)
    expect(local.inbox.received.filter((m) => m.topic === `${topic}/a`)).toHaveLength(1)
  })
})

describe('a misbehaving remote', () => {
  it('a refused subscription (SUBACK 0x80) fails the attempt, which is retried (06-bridge-disconnect_on_sub_errors)', async () => {
    const remote = await scriptedRemote({ refuseSubscriptions: true })
    const wren = await startBroker()
    const bridge = new Bridge(wren.broker, { name: uniqueId('refused'), addresses: [`127.0.0.1:${remote.port}`], restartTimeout: { base: 0.05, cap: 0.1 }, notifications: false, topics: [{ pattern: 'in_topic', direction: 'in' }] })
    onTestFinished(() => bridge.stop())
    const reason = new Promise<string>((resolve) => bridge.once('disconnected', (why) => resolve(why)))
    await bridge.start()
    expect(await reason).toBe('the remote refused the subscription to in_topic')
    await remote.packets.next(on(2, 'subscribe'), 5000)
    expect(bridge.state).not.toBe('connected')
  })

  it('with fatalSubErrors false (bridge_fatal_sub_errors false) a refused subscription is logged and the link stays up', async () => {
    const remote = await scriptedRemote({ refuseSubscriptions: true })
    const wren = await startBroker()
    const bridge = await connectedBridge(wren.broker, remote.port, { fatalSubErrors: false, notifications: false, topics: [{ pattern: 'in_topic', direction: 'in' }, { pattern: 'out/#', qos: 1 }] })
    const local = await connectClient(wren.url)
    await local.client.publishAsync('out/a', 'x', { qos: 1 })
    expect(((await remote.packets.next(on(1, 'publish'))).packet as IPublishPacket).topic).toBe('out/a')
    expect(bridge.state).toBe('connected')
  })

  it('a malformed packet ends that link only: logged as the reason, then the bridge reconnects', async () => {
    const remote = await scriptedRemote()
    const wren = await startBroker()
    const bridge = await connectedBridge(wren.broker, remote.port, { notifications: false, topics: [{ pattern: 'm/#', direction: 'in', qos: 1 }] })
    const watcher = await connectClient(wren.url)
    const reason = new Promise<string>((resolve) => bridge.once('disconnected', (why) => resolve(why)))
    // packet type 0 is reserved [MQTT-2.2.1]
    remote.sendBytes(Buffer.from([0x00, 0x00]))
    expect(await reason).toMatch(/malformed packet from the server/)
    await remote.packets.next(on(2, 'subscribe'), 5000)
    // the local broker and its other clients never noticed
    await watcher.client.subscribeAsync('m/#', { qos: 1 })
    remote.send({ cmd: 'publish', topic: 'm/after', payload: Buffer.from('ok'), qos: 1, messageId: 1, retain: false, dup: false })
    expect((await watcher.inbox.next()).payload.toString()).toBe('ok')
  })
})
