import type { Packet } from 'mqtt-packet'
import { describe, expect, it } from 'vitest'
import { connectV5, rawConnectV5, rawSubscribe } from '../helpers/v5.js'
import { startBroker } from '../helpers/start-broker.js'

describe('MQTT 5 slow consumer', () => {
  it('disconnects a client that stops reading (0x97 Quota exceeded when the DISCONNECT gets through) without stalling others', { timeout: 180_000 }, async () => {
    const b = await startBroker({ maxSocketBuffer: 64 * 1024, drainTimeout: 3000 })
    const { raw } = await rawConnectV5(b.port, { clientId: 'never-reads' })
    await rawSubscribe(raw, 'slow/#', 1)
    const slowGone = new Promise<string>((resolve) => b.broker.on('clientDisconnected', (client, reason) => client.id === 'never-reads' && resolve(reason)))
    const fast = await connectV5(b.url)
    await fast.client.subscribeAsync('slow/#', { qos: 1 })
    raw.stream.pause()
    // large enough that the window of in-flight messages (maxInflight 100) overflows the kernel socket buffers
    const payload = Buffer.alloc(256 * 1024, 0x61)
    const count = 60
    for (let i = 0; i < count; i++) {
      await b.broker.publish({ topic: 'slow/t', payload: i === count - 1 ? 'last' : payload, qos: 1 })
      if (i % 10 === 0) await new Promise((resolve) => setImmediate(resolve))
    }
    // Bounds, not pacing: on a busy machine 30 MB take a while to reach the reading client.
    await fast.messages.next((m) => m.payload.toString() === 'last', 150_000)
    expect(fast.messages.received).toHaveLength(count)
    expect(await slowGone).toBe('slow-consumer')
    raw.stream.resume()
    expect(await raw.closesWithin(5000)).toBe(true)
    const publishes = raw.packets.received.filter((p: Packet) => p.cmd === 'publish')
    expect(publishes.length).toBeLessThan(count)
    const disconnect = raw.packets.received.find((p: Packet) => p.cmd === 'disconnect')
    if (disconnect !== undefined) expect(disconnect.reasonCode).toBe(0x97)
  })
})
