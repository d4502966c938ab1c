import { describe, expect, it } from 'vitest'
import { connectClient, type ReceivedMessage, type TestClient } from './helpers/clients.js'
import { startBroker } from './helpers/start-broker.js'

const COUNTERS = [
  '$SYS/broker/clients/connected',
  '$SYS/broker/clients/total',
  '$SYS/broker/messages/received',
  '$SYS/broker/messages/sent',
  '$SYS/broker/bytes/received',
  '$SYS/broker/bytes/sent',
  '$SYS/broker/subscriptions/count',
  '$SYS/broker/retained messages/count',
  '$SYS/broker/heap/used',
]

const value = (m: ReceivedMessage): string => m.payload.toString()

/** Waits for a $SYS topic whose value satisfies `accept` (they are re-published every sysInterval). */
function sysValue(client: TestClient, topic: string, accept: (value: string) => boolean = () => true): Promise<ReceivedMessage> {
  return client.inbox.next((m) => m.topic === topic && accept(value(m)), 4000, topic)
}

describe('$SYS topics (names as in Mosquitto)', () => {
  it('publishes the broker version, uptime and counters every sysInterval', async () => {
    const b = await startBroker({ sysInterval: 1 })
    const watcher = await connectClient(b.url)
    await watcher.client.subscribeAsync('$SYS/#', { qos: 0 })
    expect(value(await sysValue(watcher, '$SYS/broker/version'))).toMatch(/\S/)
    expect(value(await sysValue(watcher, '$SYS/broker/uptime'))).toMatch(/\d+/)
    for (const topic of COUNTERS) {
      expect(value(await sysValue(watcher, topic)), topic).toMatch(/^\d+$/)
    }
  })

  it('publishes again after sysInterval, with uptime moving on', async () => {
    const b = await startBroker({ sysInterval: 1 })
    const watcher = await connectClient(b.url)
    await watcher.client.subscribeAsync('$SYS/broker/uptime', { qos: 0 })
    const first = Number(/\d+/.exec(value(await sysValue(watcher, '$SYS/broker/uptime')))?.[0])
    const later = await sysValue(watcher, '$SYS/broker/uptime', (v) => Number(/\d+/.exec(v)?.[0]) > first)
    expect(later.topic).toBe('$SYS/broker/uptime')
  })

  it('reports what the clients did', async () => {
    const b = await startBroker({ sysInterval: 1 })
    const watcher = await connectClient(b.url)
    await watcher.client.subscribeAsync('$SYS/#', { qos: 0 })
    const other = await connectClient(b.url)
    await other.client.subscribeAsync({ 'sys-test/a': { qos: 0 }, 'sys-test/b': { qos: 1 } })
    for (let i = 0; i < 3; i++) await other.client.publishAsync(`sys-test/retained/${i}`, 'x'.repeat(100), { qos: 1, retain: true })
    for (let i = 0; i < 5; i++) await other.client.publishAsync('sys-test/a', 'y', { qos: 1 })
    await other.inbox.take(5)

    const atLeast = (n: number) => (v: string) => Number(v) >= n
    await sysValue(watcher, '$SYS/broker/clients/connected', atLeast(2))
    await sysValue(watcher, '$SYS/broker/clients/total', atLeast(2))
    await sysValue(watcher, '$SYS/broker/messages/received', atLeast(8))
    await sysValue(watcher, '$SYS/broker/messages/sent', atLeast(5))
    // three retained PUBLISH packets carry 100 bytes of payload each
    await sysValue(watcher, '$SYS/broker/bytes/received', atLeast(300))
    await sysValue(watcher, '$SYS/broker/bytes/sent', atLeast(5))
    await sysValue(watcher, '$SYS/broker/subscriptions/count', atLeast(3))
    await sysValue(watcher, '$SYS/broker/retained messages/count', atLeast(3))
    await sysValue(watcher, '$SYS/broker/heap/used', atLeast(1))

    await other.client.endAsync()
    await sysValue(watcher, '$SYS/broker/clients/connected', (v) => v === '1')
  })

  it('publishes nothing on $SYS when sysInterval is 0', async () => {
    const b = await startBroker({ sysInterval: 0 })
    const watcher = await connectClient(b.url)
    await watcher.client.subscribeAsync('$SYS/#', { qos: 0 })
    await watcher.inbox.expectNone(1500)
  })
})
