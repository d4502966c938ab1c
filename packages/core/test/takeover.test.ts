import { describe, expect, it } from 'vitest'
import { closesWithin, connectClient, RawClient, uniqueId } from './helpers/clients.js'
import { recordEvents } from './helpers/events.js'
import { startBroker } from './helpers/start-broker.js'

describe('client id takeover [MQTT-3.1.4-2]', () => {
  it('disconnects the connected client when another connects with the same id', async () => {
    const b = await startBroker()
    const events = recordEvents(b.broker)
    const clientId = uniqueId('same')
    const first = await connectClient(b.url, { clientId })
    const second = await connectClient(b.url, { clientId })
    expect(await closesWithin(first.closed, 2000)).toBe(true)
    const gone = await events.disconnected.next((e) => e.client.id === clientId)
    expect(gone.reason).toBe('taken-over')

    // the newcomer works, and messages go to it only
    await second.client.subscribeAsync('takeover/t', { qos: 1 })
    const publisher = await connectClient(b.url)
    await publisher.client.publishAsync('takeover/t', 'for-second', { qos: 1 })
    expect((await second.inbox.next()).payload.toString()).toBe('for-second')
    expect(second.client.connected).toBe(true)
    expect(first.inbox.received).toEqual([])
  })

  it('takes over from a raw connection and keeps the persistent session for the newcomer', async () => {
    const b = await startBroker()
    const clientId = uniqueId('same-raw')
    const { raw: old } = await RawClient.connect(b.port, { clientId, clean: false })
    old.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'takeover/session', qos: 1 }] })
    await old.next('suback')
    const { raw: fresh, connack } = await RawClient.connect(b.port, { clientId, clean: false })
    expect(connack.sessionPresent).toBe(true)
    expect(await old.closesWithin(2000)).toBe(true)
    const publisher = await connectClient(b.url)
    await publisher.client.publishAsync('takeover/session', 'kept', { qos: 1 })
    expect((await fresh.next('publish')).payload.toString()).toBe('kept')
  })
})
