import { describe, expect, it } from 'vitest'
import type { Message } from '../../src/index.js'
// SharedMember is not re-exported from the package index
import type { SharedMember } from '../../src/options.js'
import { closesWithin, connectClient, uniqueId } from '../helpers/clients.js'
import { connectV5, type V5Client } from '../helpers/v5.js'
import type { Inbox } from '../helpers/inbox.js'
import { startBroker, type StartedBroker } from '../helpers/start-broker.js'

/** A plain subscription every member also holds, so a message published after the others marks the end of each member's share. */
const MARKER = 'sh-marker'

async function members(url: string, filter: string, count: number): Promise<V5Client[]> {
  const clients: V5Client[] = []
  for (let i = 0; i < count; i++) {
    const member = await connectV5(url, { clientId: uniqueId(`member${i}`) })
    await member.client.subscribeAsync({ [filter]: { qos: 1 }, [MARKER]: { qos: 1 } })
    clients.push(member)
  }
  return clients
}

/**
 * Publishes the marker and waits until every member has it: what the broker sent a member before it (a share,
 * or a copy too many) has arrived by then. Returns the payloads the members received, markers left out.
 */
async function sharesOf(b: StartedBroker, inboxes: Array<Pick<Inbox<{ topic: string; payload: Buffer }>, 'next' | 'received'>>): Promise<string[][]> {
  await b.broker.publish({ topic: MARKER, payload: 'end', qos: 1 })
  for (const inbox of inboxes) await inbox.next((m) => m.topic === MARKER)
  return inboxes.map((inbox) => inbox.received.filter((m) => m.topic !== MARKER).map((m) => m.payload.toString()))
}

const payloads = (count: number, prefix = 'm') => Array.from({ length: count }, (_, i) => `${prefix}${i}`)

describe('MQTT 5 shared subscriptions', () => {
  it('delivers each message to exactly one member, spread across the group (§4.8.2)', async () => {
    const b = await startBroker()
    const group = await members(b.url, '$share/g/sh/t', 3)
    const sent = payloads(30)
    for (const payload of sent) await b.broker.publish({ topic: 'sh/t', payload, qos: 1 })
    const shares = await sharesOf(b, group.map((m) => m.messages))
    expect(shares.flat().sort()).toEqual([...sent].sort())
    const counts = shares.map((share) => share.length)
    for (const count of counts) expect(count, `distribution ${counts.join('/')}`).toBeGreaterThanOrEqual(5)
    // members see the topic as published, not the $share filter
    expect(group[0]?.messages.received[0]?.topic).toBe('sh/t')
  })

  it('does not send retained messages on a shared subscribe (§4.8.2)', async () => {
    const b = await startBroker()
    await b.broker.publish({ topic: 'sh/ret', payload: 'kept', qos: 1, retain: true })
    const [member] = await members(b.url, '$share/g/sh/ret', 1)
    const plain = await connectV5(b.url)
    await plain.client.subscribeAsync('sh/ret', { qos: 1 })
    expect((await plain.messages.next()).payload.toString()).toBe('kept')
    await member?.messages.expectNone(300)
  })

  it('gives each group its own copy, and plain subscribers theirs', async () => {
    const b = await startBroker()
    const g1 = await members(b.url, '$share/g1/sh/two', 2)
    const g2 = await members(b.url, '$share/g2/sh/two', 2)
    const plain = await connectV5(b.url)
    await plain.client.subscribeAsync('sh/two', { qos: 1 })
    const sent = payloads(10)
    for (const payload of sent) await b.broker.publish({ topic: 'sh/two', payload, qos: 1 })
    await plain.messages.take(10)
    for (const group of [g1, g2]) expect((await sharesOf(b, group.map((m) => m.messages))).flat().sort()).toEqual([...sent].sort())
  })

  it('lets a 3.1.1 client join a shared group next to a v5 member', async () => {
    const b = await startBroker()
    const v3 = await connectClient(b.url)
    await v3.client.subscribeAsync({ '$share/mixed/sh/v3': { qos: 1 }, [MARKER]: { qos: 1 } })
    const [v5] = await members(b.url, '$share/mixed/sh/v3', 1)
    const sent = payloads(10)
    for (const payload of sent) await b.broker.publish({ topic: 'sh/v3', payload, qos: 1 })
    const [fromV3 = [], fromV5 = []] = await sharesOf(b, [v3.inbox, ...(v5 ? [v5.messages] : [])])
    expect([...fromV3, ...fromV5].sort()).toEqual([...sent].sort())
    expect(fromV3.length).toBeGreaterThan(0)
    expect(fromV5.length).toBeGreaterThan(0)
    expect(v3.inbox.received[0]?.topic).toBe('sh/v3')
  })

  it('sends to the online member, not to an offline persistent one, while one is online', async () => {
    const b = await startBroker()
    const offlineId = uniqueId('offline-member')
    const away = await connectV5(b.url, { clientId: offlineId, clean: false, properties: { sessionExpiryInterval: 300 } })
    await away.client.subscribeAsync('$share/g/sh/off', { qos: 1 })
    await away.client.endAsync()
    await closesWithin(away.closed, 2000)
    const [online] = await members(b.url, '$share/g/sh/off', 1)
    const sent = payloads(10)
    for (const payload of sent) await b.broker.publish({ topic: 'sh/off', payload, qos: 1 })
    expect((await online!.messages.take(10)).map((m) => m.payload.toString())).toEqual(sent)
    const back = await connectV5(b.url, { clientId: offlineId, clean: false, properties: { sessionExpiryInterval: 300 } })
    expect(back.connack.sessionPresent).toBe(true)
    await back.messages.expectNone(400)
  })

  it('asks a custom sharedSubscriptionStrategy which member gets each message', async () => {
    const calls: Array<{ group: string; members: SharedMember[]; topic: string }> = []
    const b = await startBroker({
      sharedSubscriptionStrategy: (group: string, members: readonly SharedMember[], message: Message) => {
        calls.push({ group, members: [...members], topic: message.topic })
        const index = members.findIndex((m) => m.clientId === message.payload.toString())
        return index === -1 ? 0 : index
      },
    })
    const a = await connectV5(b.url, { clientId: 'strategy-a' })
    await a.client.subscribeAsync('$share/picky/sh/custom', { qos: 1 })
    const c = await connectV5(b.url, { clientId: 'strategy-c' })
    await c.client.subscribeAsync('$share/picky/sh/custom', { qos: 1 })
    for (const target of ['strategy-c', 'strategy-a', 'strategy-c', 'strategy-c']) await b.broker.publish({ topic: 'sh/custom', payload: target, qos: 1 })
    expect((await c.messages.take(3)).every((m) => m.payload.toString() === 'strategy-c')).toBe(true)
    expect((await a.messages.next()).payload.toString()).toBe('strategy-a')
    await a.messages.expectNone(200)
    expect(calls).toHaveLength(4)
    expect(calls[0]?.group).toBe('picky')
    expect(calls[0]?.topic).toBe('sh/custom')
    expect(calls[0]?.members.map((m) => [m.clientId, m.online]).sort()).toEqual([
      ['strategy-a', true],
      ['strategy-c', true],
    ])
  })

  it('uses the custom strategy index even when it names an offline member with a session', async () => {
    const b = await startBroker({
      sharedSubscriptionStrategy: (_group, members) => members.findIndex((m) => !m.online),
    })
    const sleeperId = uniqueId('sleeper')
    const sleeper = await connectV5(b.url, { clientId: sleeperId, clean: false, properties: { sessionExpiryInterval: 300 } })
    await sleeper.client.subscribeAsync('$share/s/sh/pick-offline', { qos: 1 })
    await sleeper.client.endAsync()
    await closesWithin(sleeper.closed, 2000)
    const [awake] = await members(b.url, '$share/s/sh/pick-offline', 1)
    await b.broker.publish({ topic: 'sh/pick-offline', payload: 'for-the-sleeper', qos: 1 })
    await awake!.messages.expectNone(300)
    const back = await connectV5(b.url, { clientId: sleeperId, clean: false, properties: { sessionExpiryInterval: 300 } })
    expect((await back.messages.next()).payload.toString()).toBe('for-the-sleeper')
  })
})
