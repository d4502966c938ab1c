/**
 * The delivery guarantee, checked end to end over TCP with real MQTT clients on a broker that uses the adapter:
 * at default limits, no acknowledged QoS 1/2 message is lost for a subscriber that keeps reading, and a subscriber
 * that never reads holds nobody back. An adapter's test file calls `deliverySuite()` once.
 */
import net from 'node:net'
import { connect, type MqttClient } from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createBroker, type BrokerOptions, type Persistence } from '@wren/core'

type Broker = ReturnType<typeof createBroker>

async function startBroker(persistence: Persistence, options: BrokerOptions = {}): Promise<{ broker: Broker; url: string; port: number }> {
  const broker = createBroker({ sysInterval: 0, ...options, persistence })
  await broker.ready()
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    broker.handle(socket, { transport: 'tcp' })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  onTestFinished(async () => {
    await broker.close()
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  const port = (server.address() as net.AddressInfo).port
  return { broker, url: `mqtt://127.0.0.1:${port}`, port }
}

let clients = 0
function connected(url: string, options: { protocolVersion: 4 | 5; clientId?: string; clean?: boolean }): Promise<MqttClient> {
  const client = connect(url, { reconnectPeriod: 0, connectTimeout: 10_000, clientId: `delivery-${process.pid}-${++clients}`, ...options })
  onTestFinished(() => {
    client.end(true)
  })
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client))
    client.once('error', reject)
  })
}

/** Resolves once `count` messages have arrived; every payload is kept in arrival order. */
function collect(client: MqttClient, count: number): { payloads: string[]; all: Promise<void> } {
  const payloads: string[] = []
  const all = new Promise<void>((resolve) => {
    client.on('message', (_topic, payload) => {
      payloads.push(payload.toString())
      if (payloads.length === count) resolve()
    })
  })
  return { payloads, all }
}

/** Per publisher, the sequence numbers in the order they arrived. */
function sequences(payloads: string[]): Map<string, number[]> {
  const byPublisher = new Map<string, number[]>()
  for (const payload of payloads) {
    const [publisher = '', seq = ''] = payload.split(':')
    const list = byPublisher.get(publisher) ?? []
    list.push(Number(seq))
    byPublisher.set(publisher, list)
  }
  return byPublisher
}

/** A raw 3.1.1 CONNECT and SUBSCRIBE, for a client that then never reads its socket. */
function connectAndSubscribe(clientId: string, filter: string, qos: 0 | 1): Buffer {
  const id = Buffer.from(clientId)
  const variable = Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 0])
  const connectBody = Buffer.concat([variable, Buffer.from([id.length >> 8, id.length & 0xff]), id])
  const topic = Buffer.from(filter)
  const subscribeBody = Buffer.concat([Buffer.from([0, 1, topic.length >> 8, topic.length & 0xff]), topic, Buffer.from([qos])])
  return Buffer.concat([Buffer.from([0x10, connectBody.length]), connectBody, Buffer.from([0x82, subscribeBody.length]), subscribeBody])
}

export function deliverySuite(name: string, factory: () => Promise<Persistence>): void {
  describe(`delivery guarantee: ${name}`, () => {
    const cases = [
      { protocolVersion: 4, qos: 1, clean: true },
      { protocolVersion: 4, qos: 1, clean: false },
      { protocolVersion: 4, qos: 2, clean: false },
      { protocolVersion: 5, qos: 1, clean: false },
      { protocolVersion: 5, qos: 2, clean: true },
    ] as const
    for (const { protocolVersion, qos, clean } of cases) {
      const session = clean ? 'clean' : 'persistent'
      it(`v${protocolVersion} QoS ${qos}, ${session} subscriber: 8 publishers x 250 (twice maxQueued) all arrive once, in order per publisher`, { timeout: 120_000 }, async () => {
        const { broker, url } = await startBroker(await factory())
        const publishers = 8
        const perPublisher = 250
        const subscriber = await connected(url, { protocolVersion, clean })
        await subscriber.subscribeAsync('flow/#', { qos })
        const inbox = collect(subscriber, publishers * perPublisher)
        const clients = await Promise.all(Array.from({ length: publishers }, () => connected(url, { protocolVersion })))
        // Every publish is written at once, without waiting for acks: the broker must hold the publishers back,
        // and acknowledge each publisher's messages in the order they were sent [MQTT-4.6.0-2] [MQTT-4.6.0-3].
        const acked = clients.map(() => [] as number[])
        await Promise.all(
          clients.map((client, p) =>
            Promise.all(
              Array.from({ length: perPublisher }, (_, i) => client.publishAsync(`flow/${p}`, `p${p}:${i}`, { qos }).then(() => acked[p]?.push(i))),
            ),
          ),
        )
        await inbox.all
        const expected = Array.from({ length: perPublisher }, (_, i) => i)
        const got = sequences(inbox.payloads)
        expect(got.size).toBe(publishers)
        for (const list of got.values()) expect(list).toEqual(expected)
        for (const list of acked) expect(list).toEqual(expected)
        expect(broker.stats.messagesDropped).toBe(0)
      })
    }

    it('a session stored without expiry ends when a broker starts with maxSessionExpiryInterval and its time is up (persistent_client_expiration)', async () => {
      const persistence = await factory()
      await persistence.sessionSave({ clientId: 'abandoned', protocolVersion: 4, expiryInterval: 0xffff_ffff, disconnectedAt: Date.now() - 120_000 })
      await persistence.subscriptionsAdd('abandoned', [{ filter: 'old/#', qos: 1 }])
      await startBroker(persistence, { maxSessionExpiryInterval: 60 })
      // bounded wait for the broker's expiry timer, armed at start, to delete the stored session
      for (let i = 0; i < 100 && (await persistence.sessionGet('abandoned')) !== undefined; i++) await new Promise((resolve) => setTimeout(resolve, 50))
      expect(await persistence.sessionGet('abandoned')).toBeUndefined()
      expect(await persistence.subscriptionsGet('abandoned')).toEqual([])
    })

    const byteCapCases = [
      { protocolVersion: 4, policy: 'drop-new', kept: [0, 9] },
      { protocolVersion: 5, policy: 'drop-old', kept: [10, 19] },
    ] as const
    for (const { protocolVersion, policy, kept } of byteCapCases) {
      it(`v${protocolVersion}, ${policy}: an offline session's queue keeps at most maxQueuedBytes of payload, the drops counted in $SYS`, { timeout: 60_000 }, async () => {
        const { broker, url } = await startBroker(await factory(), { maxQueuedBytes: 10 * 1024, queueFullPolicy: policy, sysInterval: 1 })
        const clientId = `byte-cap-${protocolVersion}`
        const subscriber = await connected(url, { protocolVersion, clientId, clean: false, ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 600 } } : {}) })
        await subscriber.subscribeAsync('cap/#', { qos: 1 })
        const offline = new Promise<void>((resolve) => broker.on('clientDisconnected', (client) => client.id === clientId && resolve()))
        subscriber.end()
        await offline
        const publisher = await connected(url, { protocolVersion: 4 })
        // 20 QoS 1 messages of 1 KiB, each acknowledged: twice what 10 KiB holds
        for (let i = 0; i < 20; i++) await publisher.publishAsync('cap/t', Buffer.concat([Buffer.from(`p:${i}:`), Buffer.alloc(1024 - `p:${i}:`.length, 0x61)]), { qos: 1 })
        const monitor = await connected(url, { protocolVersion: 4 })
        const counted = new Promise<void>((resolve) => monitor.on('message', (topic, payload) => topic === '$SYS/broker/messages/dropped' && payload.toString() === '10' && resolve()))
        await monitor.subscribeAsync('$SYS/broker/messages/dropped')
        await counted
        expect(broker.stats.dropped.queueFull).toBe(10)

        const back = connect(url, { reconnectPeriod: 0, protocolVersion, clientId, clean: false, ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 600 } } : {}) })
        onTestFinished(() => {
          back.end(true)
        })
        // the marker is published once the stored queue was resent: it arrives after everything that was kept
        const inbox = collect(back, 11)
        await new Promise<void>((resolve, reject) => {
          back.once('connect', () => resolve())
          back.once('error', reject)
        })
        await publisher.publishAsync('cap/t', 'marker:0', { qos: 1 })
        await inbox.all
        const [first, last] = kept
        expect(inbox.payloads.slice(0, 10).map((payload) => Number(payload.split(':')[1]))).toEqual(Array.from({ length: last - first + 1 }, (_, i) => first + i))
        expect(inbox.payloads[10]).toBe('marker:0')
      })
    }

    it('a subscriber that never reads is disconnected and holds nobody back; the one that reads gets every QoS 1 message', { timeout: 120_000 }, async () => {
      const { broker, url, port } = await startBroker(await factory(), { drainTimeout: 3000, maxQueued: 100 })
      const stuck = net.connect(port, '127.0.0.1')
      onTestFinished(() => {
        stuck.destroy()
      })
      const gone = new Promise<string>((resolve) => broker.on('clientDisconnected', (client, reason) => client.id === 'never-reads' && resolve(reason)))
      const subscribed = new Promise<void>((resolve) => broker.on('subscribed', (client) => client.id === 'never-reads' && resolve()))
      stuck.write(connectAndSubscribe('never-reads', 'flood/#', 1))
      stuck.pause()
      await subscribed
      const reader = await connected(url, { protocolVersion: 4, clean: false })
      await reader.subscribeAsync('flood/#', { qos: 1 })
      const count = 3000
      const inbox = collect(reader, count)
      const publisher = await connected(url, { protocolVersion: 4 })
      const payload = Buffer.alloc(1024, 0x61)
      await Promise.all(Array.from({ length: count }, (_, i) => publisher.publishAsync('flood/t', Buffer.concat([Buffer.from(`p:${i}:`), payload]), { qos: 1 })))
      await inbox.all
      expect(sequences(inbox.payloads).get('p')).toEqual(Array.from({ length: count }, (_, i) => i))
      expect(await gone).toBe('slow-consumer')
    })
  })
}
