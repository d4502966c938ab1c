import { describe, expect, it } from 'vitest'
import { closesWithin, sleep, uniqueId } from '../helpers/clients.js'
import { connectV5, rawConnectV5, rawSubscribe } from '../helpers/v5.js'
import { startBroker, type StartedBroker } from '../helpers/start-broker.js'

// What these tests check is real time passing: the broker has no injectable clock, so they sleep past an interval of
// one or two seconds (a bounded wait). Every other wait is on an event.

/** Connects with Clean Start 0, subscribes `topic` at QoS 1 and disconnects normally. */
async function leaveSession(b: StartedBroker, clientId: string, topic: string, sessionExpiryInterval: number | undefined) {
  const first = await connectV5(b.url, { clientId, clean: false, properties: sessionExpiryInterval === undefined ? {} : { sessionExpiryInterval } })
  await first.client.subscribeAsync(topic, { qos: 1 })
  await first.client.endAsync()
  await closesWithin(first.closed, 2000)
}

describe('MQTT 5 session expiry', () => {
  it('ends the session with the connection when Session Expiry Interval is absent (0) [MQTT-3.1.2-23]', async () => {
    const b = await startBroker()
    const clientId = uniqueId('se0')
    await leaveSession(b, clientId, 'se/zero', undefined)
    await b.broker.publish({ topic: 'se/zero', payload: 'missed', qos: 1 })
    const again = await connectV5(b.url, { clientId, clean: false })
    expect(again.connack.sessionPresent).toBe(false)
    await again.messages.expectNone(300)
  })

  it('keeps the session within its expiry interval: subscriptions and queued messages survive [MQTT-3.1.2-23]', async () => {
    const b = await startBroker()
    const clientId = uniqueId('se2')
    await leaveSession(b, clientId, 'se/two', 2)
    await b.broker.publish({ topic: 'se/two', payload: 'queued', qos: 1 })
    await sleep(500)
    const again = await connectV5(b.url, { clientId, clean: false, properties: { sessionExpiryInterval: 2 } })
    expect(again.connack.sessionPresent).toBe(true)
    expect((await again.messages.next()).payload.toString()).toBe('queued')
  })

  it('discards the session once its expiry interval has passed', async () => {
    const b = await startBroker()
    const clientId = uniqueId('se2gone')
    await leaveSession(b, clientId, 'se/gone', 2)
    await b.broker.publish({ topic: 'se/gone', payload: 'queued', qos: 1 })
    await sleep(2600)
    const again = await connectV5(b.url, { clientId, clean: false })
    expect(again.connack.sessionPresent).toBe(false)
    // neither the queued message nor the subscription survived
    await b.broker.publish({ topic: 'se/gone', payload: 'after', qos: 1 })
    await again.messages.expectNone(300)
  })

  it('takes the Session Expiry Interval of DISCONNECT: 0 ends a session that CONNECT asked to keep (§3.14.2.2.2)', async () => {
    const b = await startBroker()
    const clientId = uniqueId('sedisc0')
    const { raw } = await rawConnectV5(b.port, { clientId, clean: false, properties: { sessionExpiryInterval: 60 } })
    await rawSubscribe(raw, 'se/disc', 1)
    raw.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } })
    expect(await raw.closesWithin(2000)).toBe(true)
    const again = await connectV5(b.url, { clientId, clean: false })
    expect(again.connack.sessionPresent).toBe(false)
  })

  it('takes the Session Expiry Interval of DISCONNECT: a longer one keeps the session past the CONNECT value (§3.14.2.2.2)', async () => {
    const b = await startBroker()
    const clientId = uniqueId('sedisclong')
    const { raw } = await rawConnectV5(b.port, { clientId, clean: false, properties: { sessionExpiryInterval: 1 } })
    await rawSubscribe(raw, 'se/longer', 1)
    raw.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 60 } })
    expect(await raw.closesWithin(2000)).toBe(true)
    await sleep(1600)
    await b.broker.publish({ topic: 'se/longer', payload: 'kept', qos: 1 })
    const again = await connectV5(b.url, { clientId, clean: false })
    expect(again.connack.sessionPresent).toBe(true)
    expect((await again.messages.next()).payload.toString()).toBe('kept')
  })

  it('treats a non-zero Session Expiry Interval in DISCONNECT after 0 in CONNECT as a protocol error (§3.14.2.2.2)', async () => {
    const b = await startBroker()
    const clientId = uniqueId('sedisc-err')
    const { raw } = await rawConnectV5(b.port, { clientId, clean: false })
    await rawSubscribe(raw, 'se/err', 1)
    raw.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 60 } })
    expect((await raw.next('disconnect')).reasonCode).toBe(0x82)
    expect(await raw.closesWithin(2000)).toBe(true)
    const again = await connectV5(b.url, { clientId, clean: false })
    expect(again.connack.sessionPresent).toBe(false)
  })

  it('discards an existing session on Clean Start [MQTT-3.1.2-4]', async () => {
    const b = await startBroker()
    const clientId = uniqueId('seclean')
    await leaveSession(b, clientId, 'se/clean', 60)
    await b.broker.publish({ topic: 'se/clean', payload: 'queued', qos: 1 })
    const fresh = await connectV5(b.url, { clientId, clean: true, properties: { sessionExpiryInterval: 60 } })
    expect(fresh.connack.sessionPresent).toBe(false)
    await b.broker.publish({ topic: 'se/clean', payload: 'after', qos: 1 })
    await fresh.messages.expectNone(300)
  })

  it('announces the capped Session Expiry Interval in CONNACK and applies it (§3.2.2.3.2)', async () => {
    const b = await startBroker({ maxSessionExpiryInterval: 1 })
    const clientId = uniqueId('secap')
    const first = await connectV5(b.url, { clientId, clean: false, properties: { sessionExpiryInterval: 3600 } })
    expect(first.connack.properties?.sessionExpiryInterval).toBe(1)
    await first.client.subscribeAsync('se/cap', { qos: 1 })
    await first.client.endAsync()
    await sleep(1800)
    const again = await connectV5(b.url, { clientId, clean: false, properties: { sessionExpiryInterval: 3600 } })
    expect(again.connack.sessionPresent).toBe(false)
  })

  it('keeps the requested Session Expiry Interval when it is under the cap', async () => {
    const b = await startBroker({ maxSessionExpiryInterval: 100 })
    const client = await connectV5(b.url, { clean: false, properties: { sessionExpiryInterval: 30 } })
    expect(client.connack.properties?.sessionExpiryInterval ?? 30).toBe(30)
  })
})
