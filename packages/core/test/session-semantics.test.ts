import { describe, expect, it } from 'vitest'
import { connectClient, RawClient, sleep, uniqueId } from './helpers/clients.js'
import { connectV5, rawConnectV5 } from './helpers/v5.js'
import { startBroker } from './helpers/start-broker.js'

describe('session semantics', () => {
  it.each<[string, 4 | 5]>([
    ['3.1.1: clean session 1 taken over by clean session 0', 4],
    ['5.0: Session Expiry 0 taken over by Clean Start 0', 5],
  ])('%s starts a new session [MQTT-3.1.2-6]', async (_what, protocolVersion) => {
    const b = await startBroker()
    const clientId = uniqueId('ended')
    const open = protocolVersion === 5 ? rawConnectV5 : RawClient.connect
    const { raw: first } = await open(b.port, { clientId, clean: true, protocolVersion })
    first.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'ended/t', qos: 1 }] })
    await first.next('suback')
    const { raw: second, connack } = await open(b.port, { clientId, clean: false, protocolVersion, ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 60 } } : {}) })
    expect(connack.sessionPresent).toBe(false)
    expect(await first.closesWithin(3000)).toBe(true)
    // the old subscription went with the old session: only the marker the new session subscribed to arrives
    second.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'ended/marker', qos: 1 }] })
    await second.next('suback')
    const publisher = await connectClient(b.url)
    await publisher.client.publishAsync('ended/t', 'old', { qos: 1 })
    await publisher.client.publishAsync('ended/marker', 'new', { qos: 1 })
    expect((await second.next('publish')).topic).toBe('ended/marker')
  })

  it('answers MQTT 3.1 with the CONNACK flags byte 0 (reserved in 3.1), even for a resumed session', async () => {
    const b = await startBroker()
    const clientId = uniqueId('v31')
    const { raw: first } = await RawClient.connect(b.port, { clientId, clean: false, protocolVersion: 3 })
    first.send({ cmd: 'disconnect' })
    await first.closed
    const raw = await RawClient.open(b.port, 3)
    const bytes = new Promise<Buffer>((resolve) => raw.stream.once('data', resolve))
    raw.send({ cmd: 'connect', protocolId: 'MQIsdp', protocolVersion: 3, clientId, clean: false, keepalive: 60 })
    expect([...(await bytes).subarray(0, 4)]).toEqual([0x20, 0x02, 0x00, 0x00])
  })

  it('does not publish the will when the client reconnects with Clean Start within the Will Delay Interval [MQTT-3.1.2-8]', async () => {
    const b = await startBroker()
    const watcher = await connectV5(b.url)
    await watcher.client.subscribeAsync('cancelled/#', { qos: 1 })
    const clientId = uniqueId('will-clean')
    const will = { topic: 'cancelled/will', payload: Buffer.from('gone'), qos: 1 as const, retain: false, properties: { willDelayInterval: 1 } }
    const { raw } = await rawConnectV5(b.port, { clientId, properties: { sessionExpiryInterval: 30 }, will })
    raw.destroy()
    await rawConnectV5(b.port, { clientId, clean: true })
    // Time passing is what is tested (no event marks a will not published): the one-second delay runs out, then a
    // marker published after it arrives and the will does not.
    await sleep(1500)
    await watcher.client.publishAsync('cancelled/marker', 'after', { qos: 1 })
    expect((await watcher.messages.next()).topic).toBe('cancelled/marker')
  })
})
