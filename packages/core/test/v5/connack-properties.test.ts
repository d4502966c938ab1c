import { describe, expect, it } from 'vitest'
import { connectV5, rawConnectV5, rawHandshakeV5 } from '../helpers/v5.js'
import { startBroker } from '../helpers/start-broker.js'

describe('MQTT 5 CONNACK properties', () => {
  it('announces the broker Receive Maximum and Topic Alias Maximum (§3.2.2.3.3, §3.2.2.3.8)', async () => {
    const b = await startBroker({ receiveMaximum: 10, topicAliasMaximum: 7 })
    const { connack } = await connectV5(b.url)
    expect(connack.properties?.receiveMaximum).toBe(10)
    expect(connack.properties?.topicAliasMaximum).toBe(7)
  })

  it('announces wildcard, subscription identifier and shared subscriptions as available (absent or true) (§3.2.2.3.11-13)', async () => {
    const b = await startBroker()
    const { connack } = await connectV5(b.url)
    expect(connack.properties?.wildcardSubscriptionAvailable ?? true).toBe(true)
    expect(connack.properties?.subscriptionIdentifiersAvailable ?? true).toBe(true)
    expect(connack.properties?.sharedSubscriptionAvailable ?? true).toBe(true)
  })

  it('announces Maximum QoS 1 with maxQos: 1, grants at most QoS 1 and refuses a QoS 2 PUBLISH with 0x9B [MQTT-3.2.2-9] [MQTT-3.2.2-11]', async () => {
    const b = await startBroker({ maxQos: 1 })
    const { raw, connack } = await rawConnectV5(b.port)
    expect(connack.properties?.maximumQoS).toBe(1)
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'mq/#', qos: 2 }] })
    expect((await raw.next('suback')).granted).toEqual([1])
    raw.send({ cmd: 'publish', topic: 'mq/t', payload: Buffer.from('x'), qos: 2, messageId: 2, retain: false, dup: false })
    expect((await raw.next('disconnect')).reasonCode).toBe(0x9b)
  })

  it('announces Retain Available 0 with retainAvailable: false and refuses a retained PUBLISH with 0x9A [MQTT-3.2.2-14]', async () => {
    const b = await startBroker({ retainAvailable: false })
    const { raw, connack } = await rawConnectV5(b.port)
    expect(connack.properties?.retainAvailable).toBe(false)
    raw.send({ cmd: 'publish', topic: 'ra/t', payload: Buffer.from('x'), qos: 0, retain: true, dup: false })
    expect((await raw.next('disconnect')).reasonCode).toBe(0x9a)
  })

  it('assigns a client identifier to a client that sent an empty one [MQTT-3.2.2-16]', async () => {
    const b = await startBroker()
    const { connack } = await rawConnectV5(b.port, { clientId: '', clean: true })
    const assigned = connack.properties?.assignedClientIdentifier
    expect(typeof assigned).toBe('string')
    expect(assigned?.length).toBeGreaterThan(0)
    const second = await rawConnectV5(b.port, { clientId: '', clean: true })
    expect(second.connack.properties?.assignedClientIdentifier).not.toBe(assigned)
  })

  it('tells a client with a longer keepalive the capped Server Keep Alive [MQTT-3.2.2-21]', async () => {
    const b = await startBroker({ maxKeepalive: 10 })
    expect((await connectV5(b.url, { keepalive: 60 })).connack.properties?.serverKeepAlive).toBe(10)
    expect((await connectV5(b.url, { keepalive: 5 })).connack.properties?.serverKeepAlive ?? 5).toBe(5)
  })

  it('sends Response Information only to a client that requested it [MQTT-3.1.2-28]', async () => {
    const b = await startBroker({ responseInformation: 'resp/' })
    const asked = await connectV5(b.url, { properties: { requestResponseInformation: true } })
    expect(asked.connack.properties?.responseInformation).toBe('resp/')
    const silent = await connectV5(b.url)
    expect(silent.connack.properties?.responseInformation).toBeUndefined()
    const declined = await connectV5(b.url, { properties: { requestResponseInformation: false } })
    expect(declined.connack.properties?.responseInformation).toBeUndefined()
  })

  it('sends no Response Information when none is configured, even if requested', async () => {
    const b = await startBroker()
    const asked = await connectV5(b.url, { properties: { requestResponseInformation: true } })
    expect(asked.connack.properties?.responseInformation).toBeUndefined()
  })

  // The host decides who is redirected (a hook answering 0x9C/0x9D); the broker adds the configured reference.
  const redirecting = () =>
    startBroker({
      serverReference: 'other.example:1883',
      hooks: { preConnect: (_client, request) => (request.clientId.startsWith('redirect') ? { ok: false, reasonCode: 0x9c } : true) },
    })

  it('sends Server Reference with a CONNACK 0x9C that a hook answered (§3.2.2.3.16, §4.11)', async () => {
    const b = await redirecting()
    const { raw, connack } = await rawHandshakeV5(b.port, { clientId: 'redirect-me' })
    expect(connack.reasonCode).toBe(0x9c)
    expect(connack.properties?.serverReference).toBe('other.example:1883')
    expect(await raw.closesWithin(2000)).toBe(true)
  })

  it('accepts clients the hooks accept when serverReference is configured, without a Server Reference (§4.11)', async () => {
    const b = await redirecting()
    const { connack } = await rawHandshakeV5(b.port, { clientId: 'stay' })
    expect(connack.reasonCode).toBe(0)
    expect(connack.properties?.serverReference).toBeUndefined()
  })
})
