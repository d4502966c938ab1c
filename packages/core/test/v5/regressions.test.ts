import { describe, expect, it } from 'vitest'
import { createMemoryPersistence } from '../../src/index.js'
import { sleep, uniqueId } from '../helpers/clients.js'
import { startBroker, type StartedBroker } from '../helpers/start-broker.js'
import { connectV5, rawConnectV5, rawHandshakeV5, rawSubscribe } from '../helpers/v5.js'

// Each test pins down a fix from the documentation review: it fails on the code before that fix.

const will = (topic: string, willDelayInterval?: number) => ({
  topic,
  payload: Buffer.from(`will-of-${topic}`),
  qos: 1 as const,
  retain: false,
  properties: willDelayInterval === undefined ? {} : { willDelayInterval },
})

async function willWatcher(b: StartedBroker) {
  const watcher = await connectV5(b.url)
  await watcher.client.subscribeAsync('will/#', { qos: 1 })
  return watcher
}

describe('regressions (MQTT 5)', () => {
  it('drops an in-flight message that expired while the client was away from the window on resume, so later messages still flow', async () => {
    const b = await startBroker({ maxInflight: 1 })
    const clientId = uniqueId('resume-expired')
    const session = { clientId, clean: false, properties: { sessionExpiryInterval: 300 } }
    const first = await rawConnectV5(b.port, session)
    await rawSubscribe(first.raw, 'resume/expiry', 1)
    await b.broker.publish({ topic: 'resume/expiry', payload: 'short-lived', qos: 1, properties: { messageExpiryInterval: 1 } })
    expect((await first.raw.next('publish')).payload.toString()).toBe('short-lived')
    first.raw.destroy() // without PUBACK: 'short-lived' stays in flight, the only slot
    await first.raw.closed

    await b.broker.publish({ topic: 'resume/expiry', payload: 'later', qos: 1 })
    // Time passing is what is tested: the in-flight message's one second of life runs out while its client is away.
    await sleep(1200)
    const second = await rawConnectV5(b.port, session)
    expect(second.connack.sessionPresent).toBe(true)
    const publish = await second.raw.next('publish')
    expect(publish.payload.toString()).toBe('later')
    second.raw.send({ cmd: 'puback', messageId: publish.messageId as number })
    await second.raw.packets.expectNone(300, (p) => p.cmd === 'publish')
  })

  it('undoes a new topic alias whose packet was dropped for the client Maximum Packet Size, so the next message names its topic', async () => {
    const b = await startBroker()
    const sub = await connectV5(b.url, { properties: { topicAliasMaximum: 10, maximumPacketSize: 256 } })
    await sub.client.subscribeAsync('alias/size', { qos: 0 })
    await b.broker.publish({ topic: 'alias/size', payload: Buffer.alloc(1000, 0x61) })
    await b.broker.publish({ topic: 'alias/size', payload: 'small' })
    await b.broker.publish({ topic: 'alias/size', payload: 'aliased' })
    const [small, aliased] = await sub.messages.take(2)
    expect([small?.topic, small?.wireTopic, small?.payload.toString()]).toEqual(['alias/size', 'alias/size', 'small'])
    expect(small?.properties.topicAlias).toBeGreaterThanOrEqual(1)
    // from then on the alias stands for the topic
    expect([aliased?.topic, aliased?.wireTopic, aliased?.properties.topicAlias]).toEqual(['alias/size', '', small?.properties.topicAlias])
    await sub.disconnects.expectNone(200)
  })

  it.each([
    { answer: 'false', verdict: false, code: 0x87 },
    { answer: 'a denial with code 0x90', verdict: { ok: false as const, reasonCode: 0x90 }, code: 0x90 },
  ])('refuses a connection whose will authorizePublish answers $answer, with that CONNACK code', async ({ verdict, code }) => {
    const b = await startBroker({ hooks: { authorizePublish: (_client, message) => (message.topic === 'will/forbidden' ? verdict : true) } })
    const { raw, connack } = await rawHandshakeV5(b.port, { will: will('will/forbidden') })
    expect(connack.reasonCode).toBe(code)
    expect(await raw.closesWithin(2000)).toBe(true)
  })

  it.each([
    { reason: '0x00', reasonCode: 0x00, outcome: 'discards' },
    { reason: '0x04', reasonCode: 0x04, outcome: 'publishes' },
    { reason: '0x80', reasonCode: 0x80, outcome: 'publishes' },
  ])('DISCONNECT with reason $reason $outcome the will [MQTT-3.1.2-10]', async ({ reasonCode, outcome }) => {
    const b = await startBroker()
    const watcher = await willWatcher(b)
    const { raw } = await rawConnectV5(b.port, { will: will('will/disconnect') })
    raw.send({ cmd: 'disconnect', reasonCode })
    await raw.closed
    if (outcome === 'publishes') expect((await watcher.messages.next()).topic).toBe('will/disconnect')
    else await watcher.messages.expectNone(400)
  })

  it.each([
    [1, 'puback'],
    [2, 'pubrec'],
  ] as const)('answers a client QoS %s PUBLISH into $SYS with %s 0x87 and routes nothing', async (qos, ack) => {
    const b = await startBroker({ sysInterval: 0 })
    const watcher = await connectV5(b.url)
    await watcher.client.subscribeAsync('$SYS/#', { qos: 1 })
    const { raw } = await rawConnectV5(b.port)
    raw.send({ cmd: 'publish', topic: '$SYS/broker/uptime', payload: Buffer.from('forged'), qos, messageId: 3, retain: true, dup: false })
    const reply = await raw.next(ack)
    expect([reply.messageId, reply.reasonCode]).toEqual([3, 0x87])
    await watcher.messages.expectNone(400)
  })

  it('waits the will delay again, from the start, for a will left by a broker that ended with its client connected', async () => {
    const store = createMemoryPersistence()
    // Never told its client went away: as far as the store knows, that broker died with the client connected.
    const previous = await startBroker({ persistence: store })
    const clientId = uniqueId('will-restart')
    await rawConnectV5(previous.port, { clientId, properties: { sessionExpiryInterval: 60 }, will: will('will/restart', 2) })

    const restartedAt = Date.now()
    const restarted = await startBroker({ persistence: store })
    const watcher = await willWatcher(restarted)
    await watcher.messages.expectNone(1000)
    expect((await watcher.messages.next(undefined, 3000)).topic).toBe('will/restart')
    expect(Date.now() - restartedAt).toBeGreaterThanOrEqual(1900)
  })
})
