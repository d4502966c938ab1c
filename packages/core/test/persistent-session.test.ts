import { describe, expect, it } from 'vitest'
import { MemoryPersistence, type OutboundEntry } from '../src/index.js'
import { connectClient, RawClient, uniqueId } from './helpers/clients.js'
import { startBroker, type StartedBroker } from './helpers/start-broker.js'

async function subscribeAndLeave(b: StartedBroker, clientId: string, filters: Record<string, { qos: 0 | 1 | 2 }>): Promise<void> {
  const client = await connectClient(b.url, { clientId, clean: false })
  await client.client.subscribeAsync(filters)
  await client.client.endAsync()
}

describe('persistent sessions (clean session 0)', () => {
  it('keeps subscriptions and delivers QoS 1 and 2 messages queued while offline, with sessionPresent [MQTT-3.1.2-4] [MQTT-3.2.2-2]', async () => {
    const b = await startBroker()
    const clientId = uniqueId('persist')
    await subscribeAndLeave(b, clientId, { 'ps/one': { qos: 1 }, 'ps/two': { qos: 2 } })
    const pub = await connectClient(b.url)
    await pub.client.publishAsync('ps/one', 'q1-offline', { qos: 1 })
    await pub.client.publishAsync('ps/two', 'q2-offline', { qos: 2 })

    const back = await connectClient(b.url, { clientId, clean: false })
    expect(back.connack.sessionPresent).toBe(true)
    const queued = await back.inbox.take(2)
    // two topics: the spec orders messages per topic only
    expect(queued.map((m) => [m.topic, m.payload.toString(), m.qos]).sort()).toEqual([
      ['ps/one', 'q1-offline', 1],
      ['ps/two', 'q2-offline', 2],
    ])
    // the subscriptions are live again without subscribing
    await pub.client.publishAsync('ps/one', 'live', { qos: 1 })
    expect((await back.inbox.next()).payload.toString()).toBe('live')
  })

  it('a message queued while the returning client\'s CONNECT reads its store queue reaches it once connected, not at its next resumption', async () => {
    const clientId = uniqueId('opening')
    let reading: () => void = () => {}
    const read = new Promise<void>((resolve) => (reading = resolve))
    let goOn: () => void = () => {}
    const gate = new Promise<void>((resolve) => (goOn = resolve))
    let gated = false
    // The store answers the resumption's read, then holds it until the message has been queued behind it.
    class GatedPersistence extends MemoryPersistence {
      override async outboundList(id: string): Promise<OutboundEntry[]> {
        const entries = await super.outboundList(id)
        if (id === clientId && !gated) {
          gated = true
          reading()
          await gate
        }
        return entries
      }
    }
    const b = await startBroker({ persistence: new GatedPersistence() })
    await subscribeAndLeave(b, clientId, { 'opening/t': { qos: 1 } })
    const pub = await connectClient(b.url)
    await pub.client.publishAsync('opening/t', 'before', { qos: 1 })

    const connecting = connectClient(b.url, { clientId, clean: false })
    await read
    await pub.client.publishAsync('opening/t', 'while opening', { qos: 1 })
    goOn()
    const back = await connecting
    const got = await back.inbox.take(2)
    expect(got.map((m) => m.payload.toString())).toEqual(['before', 'while opening'])
    await pub.client.publishAsync('opening/t', 'live', { qos: 1 })
    expect((await back.inbox.next()).payload.toString()).toBe('live')
  })

  it('does not re-send a message acknowledged right before DISCONNECT', async () => {
    const b = await startBroker()
    const clientId = uniqueId('acked')
    const first = await RawClient.connect(b.port, { clientId, clean: false })
    first.raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'ack/t', qos: 1 }] })
    await first.raw.next('suback')
    const pub = await connectClient(b.url)
    await pub.client.publishAsync('ack/t', 'acked', { qos: 1 })
    const message = await first.raw.next('publish')
    // both packets in one write, as a client that stops after its last message sends them
    first.raw.send({ cmd: 'puback', messageId: message.messageId as number })
    first.raw.send({ cmd: 'disconnect' })
    await first.raw.closed

    const second = await RawClient.connect(b.port, { clientId, clean: false })
    expect(second.connack.sessionPresent).toBe(true)
    await second.raw.packets.expectNone(400, (p) => p.cmd === 'publish')
  })

  it('answers sessionPresent=false to the first connection of a persistent session', async () => {
    const b = await startBroker()
    const first = await connectClient(b.url, { clientId: uniqueId('new'), clean: false })
    expect(first.connack.sessionPresent).toBe(false)
  })

  it('starts a clean session with sessionPresent=false and without the old subscriptions [MQTT-3.1.2-6] [MQTT-3.2.2-1]', async () => {
    const b = await startBroker()
    const clientId = uniqueId('cleaned')
    await subscribeAndLeave(b, clientId, { 'cs/t': { qos: 1 } })
    const pub = await connectClient(b.url)
    await pub.client.publishAsync('cs/t', 'while-offline', { qos: 1 })

    const clean = await connectClient(b.url, { clientId, clean: true })
    expect(clean.connack.sessionPresent).toBe(false)
    await pub.client.publishAsync('cs/t', 'after-clean', { qos: 1 })
    await clean.inbox.expectNone(400)
    await clean.client.endAsync()

    // the clean session discarded the old one for good
    const persistentAgain = await connectClient(b.url, { clientId, clean: false })
    expect(persistentAgain.connack.sessionPresent).toBe(false)
    await persistentAgain.inbox.expectNone(300)
  })

  it('discards a clean session when it disconnects', async () => {
    const b = await startBroker()
    const clientId = uniqueId('clean-only')
    const clean = await connectClient(b.url, { clientId, clean: true })
    await clean.client.subscribeAsync('co/t', { qos: 1 })
    await clean.client.endAsync()
    const pub = await connectClient(b.url)
    await pub.client.publishAsync('co/t', 'x', { qos: 1 })
    const back = await connectClient(b.url, { clientId, clean: false })
    expect(back.connack.sessionPresent).toBe(false)
    await back.inbox.expectNone(300)
  })

  const first10 = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']
  const last10 = ['10', '11', '12', '13', '14', '15', '16', '17', '18', '19']
  it.each([
    ['with drop-new, keeps the first messages', { maxQueued: 10, queueFullPolicy: 'drop-new' as const }, first10],
    ['by default (drop-new), keeps the first messages', { maxQueued: 10 }, first10],
    ['with drop-old, keeps the latest maxQueued messages', { maxQueued: 10, queueFullPolicy: 'drop-old' as const }, last10],
  ])('bounds the offline queue at maxQueued and, %s', async (_policy, options, expected) => {
    const b = await startBroker(options)
    const clientId = uniqueId('bounded')
    await subscribeAndLeave(b, clientId, { 'bq/t': { qos: 1 } })
    const pub = await connectClient(b.url)
    for (let i = 0; i < 20; i++) await pub.client.publishAsync('bq/t', `${i}`, { qos: 1 })
    const back = await connectClient(b.url, { clientId, clean: false })
    const delivered = await back.inbox.take(10)
    await back.inbox.expectNone(400)
    expect(delivered.map((m) => m.payload.toString())).toEqual(expected)
  })
})
