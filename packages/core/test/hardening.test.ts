import { describe, expect, it } from 'vitest'
import { connectClient, RawClient, remainingLength } from './helpers/clients.js'
import { startBroker } from './helpers/start-broker.js'

describe('limits one client runs into', () => {
  it('grants a filter repeated in one SUBSCRIBE once, with one code per copy', async () => {
    let asked = 0
    const b = await startBroker({
      hooks: {
        authorizeSubscribe: () => {
          asked++
          return true
        },
      },
    })
    const { raw } = await RawClient.connect(b.port)
    const copies = Array.from({ length: 50 }, () => ({ topic: 'alice/+/x', qos: 1 as const }))
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [...copies, { topic: 'other', qos: 0 }] })
    expect((await raw.next('suback')).granted).toEqual([...copies.map(() => 1), 0])
    expect(asked).toBe(2)
  })

  it('refuses a packet over maxConnectPacketSize before CONNECT is accepted, from its fixed header', async () => {
    const b = await startBroker({ maxConnectPacketSize: 1024 })
    const raw = await RawClient.open(b.port)
    raw.write(Buffer.concat([Buffer.from([0x10]), remainingLength(1_000_000)]))
    expect(await raw.closesWithin(3000)).toBe(true)
  })

  it('allows only 64 KiB before CONNECT by default, and maxPacketSize after it', async () => {
    const b = await startBroker()
    const raw = await RawClient.open(b.port)
    raw.write(Buffer.concat([Buffer.from([0x10]), remainingLength(65_536)]))
    expect(await raw.closesWithin(3000)).toBe(true)
    const subscriber = await connectClient(b.url)
    await subscriber.client.subscribeAsync('big', { qos: 1 })
    await subscriber.client.publishAsync('big', Buffer.alloc(200_000, 1), { qos: 1 })
    expect((await subscriber.inbox.next()).payload.length).toBe(200_000)
  })
})
