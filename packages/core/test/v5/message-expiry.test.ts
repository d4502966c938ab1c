import { describe, expect, it } from 'vitest'
import { closesWithin, sleep, uniqueId } from '../helpers/clients.js'
import { connectV5 } from '../helpers/v5.js'
import { startBroker, type StartedBroker } from '../helpers/start-broker.js'

// What these tests check is real time passing: the broker has no injectable clock, so they sleep past an interval of
// one or two seconds (a bounded wait). Every other wait is on an event.

async function goOffline(b: StartedBroker, clientId: string, topic: string) {
  const first = await connectV5(b.url, { clientId, clean: false, properties: { sessionExpiryInterval: 60 } })
  await first.client.subscribeAsync(topic, { qos: 1 })
  await first.client.endAsync()
  await closesWithin(first.closed, 2000)
}

describe('MQTT 5 message expiry', () => {
  it('does not deliver queued messages that expired while the session was offline [MQTT-3.3.2-5]', async () => {
    const b = await startBroker()
    const clientId = uniqueId('mexp')
    await goOffline(b, clientId, 'me/q')
    const pub = await connectV5(b.url)
    await pub.client.publishAsync('me/q', 'short-lived', { qos: 1, properties: { messageExpiryInterval: 1 } })
    await pub.client.publishAsync('me/q', 'durable', { qos: 1 })
    await sleep(2100)
    const back = await connectV5(b.url, { clientId, clean: false, properties: { sessionExpiryInterval: 60 } })
    expect(back.connack.sessionPresent).toBe(true)
    expect((await back.messages.next()).payload.toString()).toBe('durable')
    await back.messages.expectNone(300)
  })

  it('sends the remaining Message Expiry Interval to a receiver that was offline [MQTT-3.3.2-6]', async () => {
    const b = await startBroker()
    const clientId = uniqueId('mexp-rest')
    await goOffline(b, clientId, 'me/rest')
    const pub = await connectV5(b.url)
    await pub.client.publishAsync('me/rest', 'ten-seconds', { qos: 1, properties: { messageExpiryInterval: 10 } })
    await sleep(2100)
    const back = await connectV5(b.url, { clientId, clean: false, properties: { sessionExpiryInterval: 60 } })
    const message = await back.messages.next()
    expect(message.payload.toString()).toBe('ten-seconds')
    expect(message.properties.messageExpiryInterval).toBeGreaterThanOrEqual(6)
    expect(message.properties.messageExpiryInterval).toBeLessThanOrEqual(8)
  })

  it('forwards the Message Expiry Interval to an online subscriber, and none when the publisher set none', async () => {
    const b = await startBroker()
    const sub = await connectV5(b.url)
    await sub.client.subscribeAsync('me/live', { qos: 1 })
    const pub = await connectV5(b.url)
    await pub.client.publishAsync('me/live', 'a', { qos: 1, properties: { messageExpiryInterval: 30 } })
    await pub.client.publishAsync('me/live', 'b', { qos: 1 })
    const first = await sub.messages.next()
    expect(first.properties.messageExpiryInterval).toBeGreaterThanOrEqual(29)
    expect(first.properties.messageExpiryInterval).toBeLessThanOrEqual(30)
    expect((await sub.messages.next()).properties.messageExpiryInterval).toBeUndefined()
  })

  it('stops sending a retained message once it has expired (§3.3.2.3.3)', async () => {
    const b = await startBroker()
    const pub = await connectV5(b.url)
    await pub.client.publishAsync('me/retained', 'soon-gone', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } })
    const early = await connectV5(b.url)
    await early.client.subscribeAsync('me/retained', { qos: 1 })
    const first = await early.messages.next()
    expect([first.payload.toString(), first.retain]).toEqual(['soon-gone', true])
    expect(first.properties.messageExpiryInterval).toBeLessThanOrEqual(1)
    await sleep(1600)
    const late = await connectV5(b.url)
    await late.client.subscribeAsync('me/retained', { qos: 1 })
    await late.messages.expectNone(400)
  })
})
