import { describe, expect, it } from 'vitest'
import { connectV5, rawConnectV5 } from '../helpers/v5.js'
import { startBroker } from '../helpers/start-broker.js'

describe('MQTT 5 subscription options', () => {
  it('No Local: a client does not get its own messages back, others do [MQTT-3.8.3-3]', async () => {
    const b = await startBroker()
    const self = await connectV5(b.url)
    await self.client.subscribeAsync('nl/t', { qos: 1, nl: true })
    const other = await connectV5(b.url)
    await other.client.subscribeAsync('nl/t', { qos: 1 })
    await self.client.publishAsync('nl/t', 'from-self', { qos: 1 })
    expect((await other.messages.next()).payload.toString()).toBe('from-self')
    await other.client.publishAsync('nl/t', 'from-other', { qos: 1 })
    expect((await self.messages.next()).payload.toString()).toBe('from-other')
    await self.messages.expectNone(200)
  })

  it('without No Local a client gets its own messages', async () => {
    const b = await startBroker()
    const self = await connectV5(b.url)
    await self.client.subscribeAsync('nl/off', { qos: 1, nl: false })
    await self.client.publishAsync('nl/off', 'echo', { qos: 1 })
    expect((await self.messages.next()).payload.toString()).toBe('echo')
  })

  it('No Local on a shared subscription is a protocol error [MQTT-3.8.3-4]', async () => {
    const b = await startBroker()
    const { raw } = await rawConnectV5(b.port)
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$share/g/nl', qos: 1, nl: true }] })
    expect((await raw.next('disconnect')).reasonCode).toBe(0x82)
  })

  it('Retain As Published 0: a live message is forwarded with RETAIN 0 [MQTT-3.3.1-12]', async () => {
    const b = await startBroker()
    const sub = await connectV5(b.url)
    await sub.client.subscribeAsync('rap/t', { qos: 1, rap: false })
    await b.broker.publish({ topic: 'rap/t', payload: 'live', qos: 1, retain: true })
    expect((await sub.messages.next()).retain).toBe(false)
  })

  it('Retain As Published 1: a live message keeps the RETAIN flag it was published with [MQTT-3.3.1-13]', async () => {
    const b = await startBroker()
    const sub = await connectV5(b.url)
    await sub.client.subscribeAsync('rap/t', { qos: 1, rap: true })
    await b.broker.publish({ topic: 'rap/t', payload: 'retained', qos: 1, retain: true })
    await b.broker.publish({ topic: 'rap/t', payload: 'plain', qos: 1, retain: false })
    const [first, second] = await sub.messages.take(2)
    expect([first?.payload.toString(), first?.retain]).toEqual(['retained', true])
    expect([second?.payload.toString(), second?.retain]).toEqual(['plain', false])
  })

  it('Retain Handling 0: retained messages are sent on every SUBSCRIBE, including a repeated one [MQTT-3.3.1-9]', async () => {
    const b = await startBroker()
    await b.broker.publish({ topic: 'rh/t', payload: 'kept', qos: 1, retain: true })
    const sub = await connectV5(b.url)
    await sub.client.subscribeAsync('rh/t', { qos: 1, rh: 0 })
    expect((await sub.messages.next()).retain).toBe(true)
    await sub.client.subscribeAsync('rh/t', { qos: 1, rh: 0 })
    expect((await sub.messages.next()).payload.toString()).toBe('kept')
  })

  it('Retain Handling 1: retained messages are sent for a new subscription only [MQTT-3.3.1-10]', async () => {
    const b = await startBroker()
    await b.broker.publish({ topic: 'rh/t', payload: 'kept', qos: 1, retain: true })
    const sub = await connectV5(b.url)
    await sub.client.subscribeAsync('rh/t', { qos: 1, rh: 1 })
    expect((await sub.messages.next()).retain).toBe(true)
    await sub.client.subscribeAsync('rh/t', { qos: 1, rh: 1 })
    await sub.messages.expectNone(300)
  })

  it('Retain Handling 2: retained messages are never sent on SUBSCRIBE, live ones still are [MQTT-3.3.1-11]', async () => {
    const b = await startBroker()
    await b.broker.publish({ topic: 'rh/t', payload: 'kept', qos: 1, retain: true })
    const sub = await connectV5(b.url)
    await sub.client.subscribeAsync('rh/t', { qos: 1, rh: 2 })
    await sub.messages.expectNone(300)
    await b.broker.publish({ topic: 'rh/t', payload: 'live', qos: 1 })
    expect((await sub.messages.next()).payload.toString()).toBe('live')
  })
})
