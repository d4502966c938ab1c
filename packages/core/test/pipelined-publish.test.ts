/**
 * A connection hands several QoS 1 PUBLISHes to a store that applies calls in order without waiting for each:
 * the acks must still leave in the order the PUBLISHes came [MQTT-4.6.0-2], each only once its own message is
 * stored, and a message the store refused must not be acknowledged as if it were kept.
 */
import type { IPublishPacket } from 'mqtt-packet'
import { describe, expect, it } from 'vitest'
import type { Message, OutboundTarget } from '../src/index.js'
import { MAX_STORING } from '../src/connection/ordered-acks.js'
import { MemoryPersistence } from '../src/persistence/memory.js'
import { RawClient, connectClient } from './helpers/clients.js'
import { startBroker } from './helpers/start-broker.js'
import { rawConnectV5 } from './helpers/v5.js'

/** A memory store whose enqueues settle when the test says so, in whatever order it says. */
class GatedPersistence extends MemoryPersistence {
  readonly gates = new Map<string, { open: () => void; fail: (error: Error) => void }>()
  private readonly arrivals: Array<() => void> = []

  override async outboundEnqueue(targets: OutboundTarget[], message: Message, limit?: number, dropOldest?: boolean): Promise<string[]> {
    const dropped = await super.outboundEnqueue(targets, message, limit, dropOldest)
    await new Promise<void>((resolve, reject) => {
      this.gates.set(message.payload.toString(), { open: resolve, fail: reject })
      for (const arrived of this.arrivals.splice(0)) arrived()
    })
    return dropped
  }

  /** Resolves once enqueues for all of `payloads` are waiting at their gates. */
  async waitingFor(payloads: string[]): Promise<void> {
    while (!payloads.every((payload) => this.gates.has(payload))) await new Promise<void>((resolve) => this.arrivals.push(resolve))
  }
}

function publish(payload: string, messageId: number): IPublishPacket {
  return { cmd: 'publish', topic: 'gated/t', payload: Buffer.from(payload), qos: 1, dup: false, retain: false, messageId }
}

/** An offline persistent session on gated/t, so that every message goes to the store's enqueue. */
async function offlineSubscriber(url: string): Promise<void> {
  const sub = await connectClient(url, { clientId: 'gated-sub', clean: false })
  await sub.client.subscribeAsync('gated/t', { qos: 1 })
  await sub.client.endAsync()
}

/**
 * A broker on a gated store with one offline subscriber on gated/t, and a raw publisher (3.1.1 unless `connect`
 * says otherwise) that has sent QoS 1 messages m1..m`count`.
 */
async function publishedToGatedStore(count: number, connect: typeof rawConnectV5 = RawClient.connect): Promise<{ store: GatedPersistence; url: string; raw: RawClient }> {
  const store = new GatedPersistence()
  const b = await startBroker({ persistence: store, sysInterval: 0 })
  await offlineSubscriber(b.url)
  const { raw } = await connect(b.port)
  for (let n = 1; n <= count; n++) raw.send(publish(`m${n}`, n))
  return { store, url: b.url, raw }
}

describe('QoS 1 PUBLISHes handed to the store without waiting', () => {
  it('acknowledges in arrival order once each message is stored, whatever order the store settles in', async () => {
    const { store, url, raw } = await publishedToGatedStore(3)
    // all three reached the store before the first was stored: the connection did not wait for each
    await store.waitingFor(['m1', 'm2', 'm3'])
    store.gates.get('m3')?.open()
    store.gates.get('m2')?.open()
    store.gates.get('m1')?.open()
    const acks = [await raw.next('puback'), await raw.next('puback'), await raw.next('puback')]
    expect(acks.map((ack) => ack.messageId)).toEqual([1, 2, 3])

    const back = await connectClient(url, { clientId: 'gated-sub', clean: false })
    const got = [await back.inbox.next(), await back.inbox.next(), await back.inbox.next()]
    expect(got.map((message) => message.payload.toString())).toEqual(['m1', 'm2', 'm3'])
  })

  it(`reads on as acks go out once ${MAX_STORING} messages of one connection are being stored`, async () => {
    const count = MAX_STORING + 4
    const names = Array.from({ length: count }, (_, i) => `m${i + 1}`)
    const { store, raw } = await publishedToGatedStore(count)
    await store.waitingFor(names.slice(0, MAX_STORING))
    // each ack that goes out lets one more waiting PUBLISH through to the store
    for (let n = 1; n <= count; n++) {
      store.gates.get(`m${n}`)?.open()
      expect((await raw.next('puback')).messageId).toBe(n)
      if (n + MAX_STORING <= count) await store.waitingFor([`m${n + MAX_STORING}`])
    }
  })

  it('MQTT 5: a message the store refused gets a failure code in its place among the acks', async () => {
    const { store, raw } = await publishedToGatedStore(3, rawConnectV5)
    await store.waitingFor(['m1', 'm2', 'm3'])
    store.gates.get('m3')?.open()
    store.gates.get('m2')?.fail(new Error('disk full'))
    store.gates.get('m1')?.open()
    const acks = [await raw.next('puback'), await raw.next('puback'), await raw.next('puback')]
    expect(acks.map((ack) => [ack.messageId, ack.reasonCode ?? 0])).toEqual([
      [1, 0],
      [2, 0x80],
      [3, 0],
    ])
  })

  it('MQTT 3.1.1: the connection ends where the refused message\'s ack would go; later messages are not acknowledged', async () => {
    const { store, raw } = await publishedToGatedStore(3)
    await store.waitingFor(['m1', 'm2', 'm3'])
    store.gates.get('m3')?.open()
    store.gates.get('m2')?.fail(new Error('disk full'))
    store.gates.get('m1')?.open()
    expect((await raw.next('puback')).messageId).toBe(1)
    await raw.closed
    expect(raw.packets.unread.filter((packet) => packet.cmd === 'puback')).toEqual([])
  })
})
