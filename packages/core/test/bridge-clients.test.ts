import type { IPublishPacket } from 'mqtt-packet'
import { describe, expect, it } from 'vitest'
import { connectClient, RawClient, uniqueId } from './helpers/clients.js'
import { startBroker } from './helpers/start-broker.js'

/** A CONNECT with protocol level 0x80 | version: another broker's bridge (Mosquitto's try_private). */
async function connectBridge(port: number, version: 3 | 4 = 4): Promise<RawClient> {
  const bridgeMode = { bridgeMode: true } as Record<string, unknown>
  const { raw } = await RawClient.connect(port, { protocolVersion: version, clientId: uniqueId('bridge'), ...bridgeMode })
  return raw
}

async function subscribe(raw: RawClient, filter: string, messageId: number): Promise<void> {
  raw.send({ cmd: 'subscribe', messageId, subscriptions: [{ topic: filter, qos: 1 }] })
  await raw.next('suback')
}

const published = (raw: RawClient, topic: string) => raw.next('publish', 3000, (p) => (p as IPublishPacket).topic === topic) as Promise<IPublishPacket>

describe('clients connecting with the bridge bit (protocol level 0x83/0x84)', () => {
  it.each([3, 4] as const)('v%d: are told apart from plain clients in hooks', async (version) => {
    const { broker, port } = await startBroker()
    const seen = new Promise<boolean>((resolve) => broker.on('clientConnected', (client) => resolve(client.bridge)))
    await connectBridge(port, version)
    expect(await seen).toBe(true)
  })

  it('never get their own messages back (No Local), and see retained flags as published', async () => {
    const { port, url } = await startBroker()
    const bridge = await connectBridge(port)
    await subscribe(bridge, 'site/#', 1)
    const other = await connectClient(url)
    await other.client.subscribeAsync('site/#', { qos: 1 })

    bridge.send({ cmd: 'publish', topic: 'site/own', payload: Buffer.from('x'), qos: 1, retain: true, messageId: 7, dup: false })
    await bridge.next('puback')
    expect((await other.inbox.next((m) => m.topic === 'site/own')).retain).toBe(false)

    await other.client.publishAsync('site/live', 'y', { qos: 1, retain: true })
    // Deliveries to one client keep their order: had 'site/own' come back, it would be read before 'site/live'
    const live = await published(bridge, 'site/live')
    expect(live.retain).toBe(true)
    expect(bridge.packets.received.filter((p) => p.cmd === 'publish').map((p) => (p as IPublishPacket).topic)).toEqual(['site/live'])
  })

  it('may publish their state under $SYS/broker/connection/, and nothing else under $SYS', async () => {
    const { port, url } = await startBroker()
    const watcher = await connectClient(url)
    await watcher.client.subscribeAsync('$SYS/broker/connection/#', { qos: 1 })
    await watcher.client.subscribeAsync('$SYS/broker/forged', { qos: 1 })
    await watcher.client.subscribeAsync('marker', { qos: 1 })
    const plain = await RawClient.connect(port, { clientId: uniqueId('plain') })
    plain.raw.send({ cmd: 'publish', topic: '$SYS/broker/connection/fake/state', payload: Buffer.from('1'), qos: 1, retain: true, messageId: 1, dup: false })
    await plain.raw.next('puback')

    const bridge = await connectBridge(port)
    bridge.send({ cmd: 'publish', topic: '$SYS/broker/forged', payload: Buffer.from('1'), qos: 1, retain: false, messageId: 1, dup: false })
    await bridge.next('puback')
    bridge.send({ cmd: 'publish', topic: '$SYS/broker/connection/site/state', payload: Buffer.from('1'), qos: 1, retain: true, messageId: 2, dup: false })
    await bridge.next('puback')
    bridge.send({ cmd: 'publish', topic: 'marker', payload: Buffer.from('m'), qos: 1, retain: false, messageId: 3, dup: false })
    await bridge.next('puback')

    await watcher.inbox.next((m) => m.topic === 'marker')
    expect(watcher.inbox.received.map((m) => `${m.topic}=${m.payload.toString()}`)).toEqual(['$SYS/broker/connection/site/state=1', 'marker=m'])
    const late = await connectClient(url)
    await late.client.subscribeAsync('$SYS/broker/connection/#', { qos: 1 })
    const retained = await late.inbox.next()
    expect([retained.topic, retained.retain]).toEqual(['$SYS/broker/connection/site/state', true])
  })

  it('may leave a will on their state topic under $SYS/broker/connection/ (a plain client may not)', async () => {
    const { port, url } = await startBroker()
    const will = { topic: '$SYS/broker/connection/site/state', payload: Buffer.from('0'), qos: 1 as const, retain: true }
    const plain = await RawClient.open(port)
    expect((await plain.handshake({ clientId: uniqueId('plain'), will })).returnCode).toBe(5)
    const watcher = await connectClient(url)
    await watcher.client.subscribeAsync('$SYS/broker/connection/#', { qos: 1 })
    const bridgeMode = { bridgeMode: true } as Record<string, unknown>
    const { raw } = await RawClient.connect(port, { clientId: uniqueId('bridge'), will, ...bridgeMode })
    raw.destroy()
    const message = await watcher.inbox.next()
    expect([message.topic, message.payload.toString()]).toEqual(['$SYS/broker/connection/site/state', '0'])
  })
})
