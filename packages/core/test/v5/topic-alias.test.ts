import type { IPublishPacket } from 'mqtt-packet'
import { describe, expect, it } from 'vitest'
import { connectV5, rawConnectV5, rawSubscribe } from '../helpers/v5.js'
import { startBroker } from '../helpers/start-broker.js'

const aliased = (topic: string, alias: number, payload: string) =>
  ({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain: false, dup: false, properties: { topicAlias: alias } }) as const

describe('MQTT 5 topic aliases, client to server', () => {
  it('resolves an alias the client set on an earlier PUBLISH [MQTT-3.3.2-12]', async () => {
    const b = await startBroker()
    const sub = await connectV5(b.url)
    await sub.client.subscribeAsync('alias/#', { qos: 0 })
    const { raw } = await rawConnectV5(b.port)
    raw.send(aliased('alias/first', 1, 'sets'))
    raw.send(aliased('', 1, 'uses'))
    raw.send(aliased('alias/second', 1, 'remaps'))
    raw.send(aliased('', 1, 'uses-new'))
    const got = await sub.messages.take(4)
    expect(got.map((m) => `${m.topic}=${m.payload.toString()}`)).toEqual(['alias/first=sets', 'alias/first=uses', 'alias/second=remaps', 'alias/second=uses-new'])
  })

  it('resolves aliases sent by MQTT.js with autoUseTopicAlias', async () => {
    const b = await startBroker()
    const sub = await connectV5(b.url)
    await sub.client.subscribeAsync('auto/#', { qos: 1 })
    const pub = await connectV5(b.url, { autoUseTopicAlias: true, autoAssignTopicAlias: true })
    for (let i = 0; i < 3; i++) await pub.client.publishAsync('auto/topic', `m${i}`, { qos: 1 })
    const got = await sub.messages.take(3)
    expect(got.map((m) => m.topic)).toEqual(['auto/topic', 'auto/topic', 'auto/topic'])
  })

  it('does not carry an alias over to a new connection: an unknown alias is a protocol error [MQTT-3.3.2-7]', async () => {
    const b = await startBroker()
    const first = await rawConnectV5(b.port, { clientId: 'alias-reconnect' })
    first.raw.send(aliased('alias/old', 1, 'sets'))
    first.raw.destroy()
    const { raw } = await rawConnectV5(b.port, { clientId: 'alias-reconnect' })
    raw.send(aliased('', 1, 'stale'))
    expect((await raw.next('disconnect')).reasonCode).toBe(0x82)
  })
})

describe('MQTT 5 topic aliases, server to client', () => {
  it('sends repeated topics as an empty topic plus alias when the client allows aliases, and MQTT.js resolves them [MQTT-3.1.2-26]', async () => {
    const b = await startBroker()
    const sub = await connectV5(b.url, { properties: { topicAliasMaximum: 10 } })
    await sub.client.subscribeAsync('srv/alias', { qos: 1 })
    for (let i = 0; i < 3; i++) await b.broker.publish({ topic: 'srv/alias', payload: `m${i}`, qos: 1 })
    const [first, second, third] = await sub.messages.take(3)
    expect([first?.topic, second?.topic, third?.topic]).toEqual(['srv/alias', 'srv/alias', 'srv/alias'])
    expect(first?.wireTopic).toBe('srv/alias')
    const alias = first?.properties.topicAlias
    expect(alias).toBeGreaterThanOrEqual(1)
    expect(alias).toBeLessThanOrEqual(10)
    expect([second?.wireTopic, second?.properties.topicAlias]).toEqual(['', alias])
    expect([third?.wireTopic, third?.properties.topicAlias]).toEqual(['', alias])
  })

  it('never sends a Topic Alias when the client announced none [MQTT-3.1.2-27]', async () => {
    const b = await startBroker()
    const { raw } = await rawConnectV5(b.port)
    await rawSubscribe(raw, 'noalias/#', 0)
    for (let i = 0; i < 4; i++) await b.broker.publish({ topic: 'noalias/t', payload: `m${i}` })
    const got = (await raw.packets.take(4, (p) => p.cmd === 'publish')) as IPublishPacket[]
    expect(got.map((p) => [p.topic, p.properties?.topicAlias])).toEqual(Array.from({ length: 4 }, () => ['noalias/t', undefined]))
  })

  it('never sends a Topic Alias above the client Topic Alias Maximum, and every alias resolves to the right topic [MQTT-3.1.2-26]', async () => {
    const b = await startBroker()
    const { raw } = await rawConnectV5(b.port, { properties: { topicAliasMaximum: 2 } })
    await rawSubscribe(raw, 'many/#', 0)
    const topics = ['many/a', 'many/b', 'many/c', 'many/d', 'many/e']
    const sent = [...topics, ...topics, ...topics]
    for (const topic of sent) await b.broker.publish({ topic, payload: topic })
    const got = (await raw.packets.take(sent.length, (p) => p.cmd === 'publish')) as IPublishPacket[]
    const aliases = new Map<number, string>()
    const resolved = got.map((p) => {
      const alias = p.properties?.topicAlias
      if (alias === undefined) return p.topic.toString()
      expect(alias).toBeGreaterThanOrEqual(1)
      expect(alias).toBeLessThanOrEqual(2)
      if (p.topic.length > 0) aliases.set(alias, p.topic.toString())
      return aliases.get(alias)
    })
    expect(resolved).toEqual(sent)
    expect(got.map((p) => p.payload.toString())).toEqual(sent)
    expect(got.some((p) => p.topic.length === 0)).toBe(true)
  })
})
