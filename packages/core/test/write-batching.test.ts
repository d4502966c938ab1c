/**
 * Small packets written to a connection in one tick go out as one batch (transport.ts): what a client receives must
 * be exactly the packets, in order, when more connections write in one tick than the shared staging slab has
 * regions, when a packet too large to batch comes between small ones, and when acks and PUBLISHes mix.
 */
import { generate, type IPublishPacket } from 'mqtt-packet'
import { describe, expect, it } from 'vitest'
import { connectClient, RawClient, type TestClient } from './helpers/clients.js'
import type { Socket } from 'node:net'
import { createBroker } from '../src/index.js'
import { listen, startBroker } from './helpers/start-broker.js'

/** More than the 64 regions of one staging slab, so one tick's writes span two slabs. */
const SUBSCRIBERS = 80

function publish(payload: string, messageId: number): IPublishPacket {
  return { cmd: 'publish', topic: 'batch/t', payload: Buffer.from(payload), qos: 1, dup: false, retain: false, messageId }
}

describe('small writes batched per tick', () => {
  it('delivers every PUBLISH of one read, small and large, in order to 80 subscribers, and acks each', async () => {
    const b = await startBroker({ sysInterval: 0 })
    const subscribers: TestClient[] = []
    for (let i = 0; i < SUBSCRIBERS; i++) {
      const sub = await connectClient(b.url)
      await sub.client.subscribeAsync('batch/t', { qos: 1 })
      subscribers.push(sub)
    }
    const { raw } = await RawClient.connect(b.port)
    // Above the batching threshold (256 bytes): written on its own, after what was batched before it.
    const large = 'L'.repeat(600)
    const payloads = ['s1', 's2', large, 's3']
    // One write, so the broker reads (and routes) all four in one tick.
    raw.write(Buffer.concat(payloads.map((payload, i) => generate(publish(payload, i + 1)))))
    for (let id = 1; id <= payloads.length; id++) expect((await raw.next('puback')).messageId).toBe(id)
    for (const sub of subscribers) {
      const got = await sub.inbox.take(payloads.length)
      expect(got.map((m) => m.payload.toString())).toEqual(payloads)
    }
  })

  it('hands a burst that fills several batch regions to the socket corked: one write at the end of the tick', async () => {
    const broker = createBroker({ sysInterval: 0 })
    await broker.ready()
    const { server, port, sockets } = await listen(broker)
    try {
      const { raw: subscriber } = await RawClient.connect(port, { clientId: 'burst-sub' })
      subscriber.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'burst/t', qos: 0 }] })
      await subscriber.packets.next((p) => p.cmd === 'suback')
      const serverSide = [...sockets][0] as Socket & { _writev: (...args: unknown[]) => void; _write: (...args: unknown[]) => void }
      const { raw: publisher } = await RawClient.connect(port, { clientId: 'burst-pub' })
      // Counted from here: every write request the subscriber's socket gets.
      let writes = 0
      for (const method of ['_writev', '_write'] as const) {
        const original = serverSide[method].bind(serverSide)
        serverSide[method] = (...args: unknown[]) => {
          writes++
          original(...args)
        }
      }
      // 100 small PUBLISHes in one read: about 3 KiB for the subscriber, three regions of the staging slab.
      const burst = 100
      const one = (i: number) => generate({ cmd: 'publish', topic: 'burst/t', payload: Buffer.from(`m${i}`.padEnd(20, '.')), qos: 0, dup: false, retain: false })
      publisher.write(Buffer.concat(Array.from({ length: burst }, (_, i) => one(i))))
      for (let i = 0; i < burst; i++) expect(((await subscriber.packets.next((p) => p.cmd === 'publish')) as IPublishPacket).payload.toString()).toBe(`m${i}`.padEnd(20, '.'))
      expect(writes).toBe(1)
      publisher.destroy()
      subscriber.destroy()
    } finally {
      server.close()
    }
  })
})
