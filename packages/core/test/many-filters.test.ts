import { generate } from 'mqtt-packet'
import { describe, expect, it } from 'vitest'
import { RawClient } from './helpers/clients.js'
import { startBroker, type StartedBroker } from './helpers/start-broker.js'
import { rawConnectV5 } from './helpers/v5.js'

/**
 * One client holding thousands of filters: unsubscribing them, leaving, and coming back to them are handled in
 * turns with other clients, and nothing a stale topic-match cache remembers survives them.
 */

const COUNT = 5000
const filters = Array.from({ length: COUNT }, (_, i) => `f/${i}/+`)

async function subscribeAll(raw: RawClient): Promise<void> {
  raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: filters.map((topic) => ({ topic, qos: 0 as const })) })
  expect((await raw.next('suback', 10_000)).granted).toHaveLength(COUNT)
}

/** Routes a topic under every filter once, so that the match cache holds results that name the client. */
async function primeCache(b: StartedBroker): Promise<void> {
  for (let i = 0; i < COUNT; i += 100) await b.broker.publish({ topic: `f/${i}/x`, payload: 'prime' })
}

/** A broker where client `many` holds every filter and the match cache has routed topics to it, and another client. */
async function holdingAll(): Promise<{ b: StartedBroker; raw: RawClient; other: RawClient }> {
  const b = await startBroker()
  const { raw } = await rawConnectV5(b.port, { clientId: 'many' })
  await subscribeAll(raw)
  await primeCache(b)
  const { raw: other } = await rawConnectV5(b.port)
  return { b, raw, other }
}

async function subscriptionsOf(b: StartedBroker, clientId: string): Promise<string[]> {
  return b.broker.admin.subscriptions({ clientId }).map((s) => s.filter)
}

/**
 * Watches a large SUBSCRIBE or UNSUBSCRIBE of `clientId` from between the broker's turns (this process is the
 * broker's, so the test runs only between them): how many filters the client holds at each turn, and how many
 * PINGREQs of another client were answered before the broker announced the change. Handled in one block, the
 * packet would show the count before or after it, never one in between.
 */
function watchTurns(b: StartedBroker, clientId: string, other: RawClient) {
  const seen = new Set<number>()
  let answered = 0
  let stopped = false
  const sample = (): void => {
    seen.add(b.broker.admin.client(clientId)?.subscriptions.length ?? -1)
    if (!stopped) setImmediate(sample)
  }
  let last: Promise<void> = Promise.resolve()
  const ping = (): void => {
    other.send({ cmd: 'pingreq' })
    last = other.next('pingresp', 10_000).then(() => {
      answered++
      if (!stopped) ping()
    })
  }
  let answeredMeanwhile = -1
  const announced = (): void => {
    answeredMeanwhile = answered
  }
  b.broker.once('subscribed', announced)
  b.broker.once('unsubscribed', announced)
  sample()
  ping()
  return {
    async stop(): Promise<void> {
      stopped = true
      await last
    },
    expectInterleaved(): void {
      expect([...seen].some((count) => count > 0 && count < COUNT), `filters held at the turns seen: ${[...seen].join(', ')}`).toBe(true)
      expect(answeredMeanwhile).toBeGreaterThan(0)
    },
  }
}

describe(`a client holding ${COUNT} filters`, () => {
  it('unsubscribes them in turns: another client is answered meanwhile, and the UNSUBACK has a code per filter', async () => {
    const { b, raw, other } = await holdingAll()
    // Two filters it never held, in the middle and at the end: 0x11 for them, 0x00 for the rest.
    const unsubscribe = generate({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: [...filters.slice(0, 2500), 'never/held', ...filters.slice(2500), 'f/+/+'] }, { protocolVersion: 5 })
    const turns = watchTurns(b, 'many', other)
    raw.write(unsubscribe)
    const codes = (await raw.next('unsuback', 10_000)).granted as number[]
    await turns.stop()
    turns.expectInterleaved()
    expect(codes).toHaveLength(COUNT + 2)
    expect(codes[2500]).toBe(0x11)
    expect(codes[COUNT + 1]).toBe(0x11)
    expect(codes.filter((code) => code === 0)).toHaveLength(COUNT)
    expect(await subscriptionsOf(b, 'many')).toEqual([])
    // A topic the cache had routed to it now reaches nobody.
    raw.send({ cmd: 'publish', topic: 'f/100/x', payload: Buffer.from('x'), qos: 1, messageId: 3, retain: false, dup: false })
    expect((await raw.next('puback')).reasonCode).toBe(0x10)
  })

  it('subscribes to them in turns: another client is answered meanwhile', async () => {
    const b = await startBroker()
    await primeCache(b)
    const { raw } = await rawConnectV5(b.port, { clientId: 'many' })
    const { raw: other } = await rawConnectV5(b.port)
    const turns = watchTurns(b, 'many', other)
    await subscribeAll(raw)
    await turns.stop()
    turns.expectInterleaved()
  })

  it('leaves nothing routed when it goes in the middle of granting them', async () => {
    let asked = 0
    let leave = (): void => {}
    let left: Promise<unknown> = Promise.resolve()
    const b = await startBroker({
      hooks: {
        authorizeSubscribe: () => {
          if (++asked !== 100) return true
          // The client goes while its 100th filter is being authorized; the answer comes once it is gone.
          left = new Promise((resolve) => b.broker.once('clientDisconnected', resolve))
          leave()
          return left.then(() => true)
        },
      },
    })
    const { raw } = await rawConnectV5(b.port, { clientId: 'many' })
    leave = () => raw.destroy()
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: filters.map((topic) => ({ topic, qos: 0 as const })) })
    await raw.closed
    await left
    // The handler resumes with the 100th answer; a turn later it has granted more, or stopped.
    await new Promise((resolve) => setImmediate(resolve))
    expect(asked).toBe(100)
    expect((await b.broker.admin.gauges()).subscriptions).toBe(0)
  })

  it('refuses the whole UNSUBSCRIBE when one of its filters is malformed, and keeps every subscription', async () => {
    const b = await startBroker()
    // A persistent session, so that what it holds outlives the connection the refusal closes.
    const { raw } = await rawConnectV5(b.port, { clientId: 'many', clean: false, properties: { sessionExpiryInterval: 600 } })
    await subscribeAll(raw)
    raw.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: [...filters.slice(0, 4000), 'bad\u0000filter', ...filters.slice(4000)] })
    expect((await raw.next('disconnect')).reasonCode).toBe(0x81)
    expect(await subscriptionsOf(b, 'many')).toHaveLength(COUNT)
  })

  it('leaves with DISCONNECT: its filters go, and topics the cache had routed to it reach nobody', async () => {
    const { b, raw, other: publisher } = await holdingAll()
    publisher.send({ cmd: 'publish', topic: 'f/4900/x', payload: Buffer.from('x'), qos: 1, messageId: 1, retain: false, dup: false })
    expect((await publisher.next('puback')).reasonCode ?? 0).toBe(0)
    const gone = new Promise((resolve) => b.broker.once('clientDisconnected', resolve))
    raw.send({ cmd: 'disconnect', reasonCode: 0 })
    await gone
    expect((await b.broker.admin.gauges()).subscriptions).toBe(0)
    publisher.send({ cmd: 'publish', topic: 'f/4900/x', payload: Buffer.from('x'), qos: 1, messageId: 2, retain: false, dup: false })
    expect((await publisher.next('puback', 3000, (p) => p.messageId === 2)).reasonCode).toBe(0x10)
  })

  it('comes back to its persistent session: every filter still routes to it', async () => {
    const b = await startBroker()
    const first = await RawClient.connect(b.port, { clientId: 'keeper', clean: false })
    await subscribeAll(first.raw)
    first.raw.send({ cmd: 'disconnect' })
    await first.raw.closed
    await primeCache(b)
    const { raw, connack } = await RawClient.connect(b.port, { clientId: 'keeper', clean: false })
    expect(connack.sessionPresent).toBe(true)
    for (let i = 0; i < COUNT; i++) await b.broker.publish({ topic: `f/${i}/x`, payload: String(i) })
    const received = await raw.packets.take(COUNT, (p) => p.cmd === 'publish', 20_000)
    expect(new Set(received.map((p) => (p.cmd === 'publish' ? p.topic : '')))).toEqual(new Set(filters.map((_, i) => `f/${i}/x`)))
  })
})
