import { describe, expect, it } from 'vitest'
import { uniqueId } from '../helpers/clients.js'
import { recordEvents } from '../helpers/events.js'
import { connectV5, rawConnectV5 } from '../helpers/v5.js'
import { startBroker, type StartedBroker } from '../helpers/start-broker.js'

type WillProperties = { willDelayInterval?: number; contentType?: string; userProperties?: Record<string, string | string[]>; payloadFormatIndicator?: boolean; responseTopic?: string; correlationData?: Buffer; messageExpiryInterval?: number }

const will = (topic: string, properties: WillProperties = {}) => ({ topic, payload: Buffer.from(`will-of-${topic}`), qos: 1 as const, retain: false, properties })

async function watcher(b: StartedBroker) {
  const w = await connectV5(b.url)
  await w.client.subscribeAsync('will/#', { qos: 1 })
  return w
}

describe('MQTT 5 will delay interval and will properties', () => {
  it('publishes the will only after the Will Delay Interval (§3.1.3.2.2)', async () => {
    const b = await startBroker()
    const w = await watcher(b)
    const { raw } = await rawConnectV5(b.port, { properties: { sessionExpiryInterval: 30 }, will: will('will/delayed', { willDelayInterval: 1 }) })
    const dropped = Date.now()
    raw.destroy()
    await w.messages.expectNone(600, () => true, 'no will before the delay')
    const message = await w.messages.next(undefined, 3000)
    expect(message.topic).toBe('will/delayed')
    expect(Date.now() - dropped).toBeGreaterThanOrEqual(950)
  })

  it('does not publish the will if the client reconnects within the delay [MQTT-3.1.3-9]', async () => {
    const b = await startBroker()
    const events = recordEvents(b.broker)
    const w = await watcher(b)
    const clientId = uniqueId('will-back')
    const { raw } = await rawConnectV5(b.port, { clientId, clean: false, properties: { sessionExpiryInterval: 30 }, will: will('will/cancelled', { willDelayInterval: 2 }) })
    raw.destroy()
    await events.disconnected.next((e) => e.client.id === clientId)
    await rawConnectV5(b.port, { clientId, clean: false, properties: { sessionExpiryInterval: 30 } })
    await w.messages.expectNone(2600)
  })

  it('publishes the will when the session ends before the Will Delay Interval (§3.1.3.2.2)', async () => {
    const b = await startBroker()
    const w = await watcher(b)
    const { raw } = await rawConnectV5(b.port, { properties: { sessionExpiryInterval: 1 }, will: will('will/session-end', { willDelayInterval: 30 }) })
    const dropped = Date.now()
    raw.destroy()
    const message = await w.messages.next(undefined, 4000)
    expect(message.topic).toBe('will/session-end')
    const elapsed = Date.now() - dropped
    expect(elapsed).toBeGreaterThanOrEqual(900)
    expect(elapsed).toBeLessThan(3500)
  })

  it('publishes the will at once when the session expiry is 0, whatever the will delay (§3.1.3.2.2)', async () => {
    const b = await startBroker()
    const w = await watcher(b)
    const { raw } = await rawConnectV5(b.port, { will: will('will/no-session', { willDelayInterval: 30 }) })
    raw.destroy()
    expect((await w.messages.next(undefined, 1000)).topic).toBe('will/no-session')
  })

  it('publishes the will on DISCONNECT with reason 0x04 (Disconnect with Will Message) (§3.14.2.1)', async () => {
    const b = await startBroker()
    const w = await watcher(b)
    const { raw } = await rawConnectV5(b.port, { will: will('will/asked') })
    raw.send({ cmd: 'disconnect', reasonCode: 0x04 })
    expect((await w.messages.next()).topic).toBe('will/asked')
  })

  it('carries the will properties to subscribers (§3.1.3.2)', async () => {
    const b = await startBroker()
    const w = await watcher(b)
    const userProperties = { origin: 'sensor-7', tag: ['b', 'a'] }
    const correlationData = Buffer.from([9, 8, 7])
    const dying = await connectV5(b.url, {
      will: will('will/props', { contentType: 'text/plain', userProperties, payloadFormatIndicator: true, responseTopic: 'will/reply', correlationData, messageExpiryInterval: 60 }),
    })
    dying.client.stream.destroy()
    const message = await w.messages.next()
    expect(message.payload.toString()).toBe('will-of-will/props')
    expect(message.properties.contentType).toBe('text/plain')
    expect(Object.entries(message.properties.userProperties ?? {})).toEqual(Object.entries(userProperties))
    expect(message.properties.payloadFormatIndicator).toBe(true)
    expect(message.properties.responseTopic).toBe('will/reply')
    expect(Buffer.compare(message.properties.correlationData ?? Buffer.alloc(0), correlationData)).toBe(0)
  })

  it('sends the will Message Expiry Interval, counted from when the will is published (§3.1.3.2.4)', async () => {
    const b = await startBroker()
    const w = await watcher(b)
    const { raw } = await rawConnectV5(b.port, { properties: { sessionExpiryInterval: 30 }, will: will('will/expiry', { willDelayInterval: 1, messageExpiryInterval: 60 }) })
    raw.destroy()
    const message = await w.messages.next(undefined, 3000)
    expect(message.properties.messageExpiryInterval).toBeGreaterThanOrEqual(59)
    expect(message.properties.messageExpiryInterval).toBeLessThanOrEqual(60)
  })
})
