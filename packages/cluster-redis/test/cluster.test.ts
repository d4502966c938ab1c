/**
 * Three broker processes sharing one real redis-server behave as one broker, seen from MQTT.js clients:
 * cross-node delivery, session resumption on another node, takeover across nodes, shared subscriptions,
 * retained messages, $SYS cluster counts, and the wills of a SIGKILLed node's clients.
 * The nodes run test/fixtures/node.mjs on the built packages (`pnpm build` first).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { connect, type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startRedisServer, type RedisServer } from '../../persistence-redis/test/redis-server.js'
import { assertBuilt } from '../../core/test/helpers/built.js'

const FIXTURE = fileURLToPath(new URL('./fixtures/node.mjs', import.meta.url))
// A lease a loaded machine can keep: with 1 s, a node whose event loop stalled under a CPU hog was declared dead
// by the others and let its clients go mid-test.
const LEASE_MS = 4000
const HEARTBEAT_MS = 500
const PREFIX = 'itest:'

interface NodeProcess {
  id: string
  port: number
  child: ChildProcess
  lines: Array<Record<string, unknown>>
  exited: Promise<void>
}

async function startNode(redisUrl: string, id: string): Promise<NodeProcess> {
  const child = spawn(process.execPath, [FIXTURE], {
    env: { ...process.env, REDIS_URL: redisUrl, NODE_ID: id, PREFIX, LEASE_MS: String(LEASE_MS), HEARTBEAT_MS: String(HEARTBEAT_MS), SYS_INTERVAL: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: Array<Record<string, unknown>> = []
  let stderr = ''
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = ''
    const timer = setTimeout(() => reject(new Error(`node ${id} did not start: ${stderr}`)), 10_000)
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk
      const parts = buffered.split('\n')
      buffered = parts.pop()!
      for (const part of parts) {
        const line = JSON.parse(part) as Record<string, unknown>
        lines.push(line)
        if (line.event === 'listening') {
          clearTimeout(timer)
          resolve(line.port as number)
        }
      }
    })
    void exited.then(() => reject(new Error(`node ${id} exited: ${stderr}`)))
  })
  return { id, port, child, lines, exited }
}

async function stopNode(node: NodeProcess): Promise<void> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return
  node.child.kill('SIGTERM')
  const timer = setTimeout(() => node.child.kill('SIGKILL'), 5000)
  await node.exited
  clearTimeout(timer)
}

/** Polls `ready` every 10 ms; fails with `what` after the timeout. */
async function until(ready: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

let redis: RedisServer
let a: NodeProcess
let b: NodeProcess
let c: NodeProcess
const clients: MqttClient[] = []

beforeAll(async () => {
  assertBuilt('cluster-redis', 'persistence-redis')
  redis = await startRedisServer()
  ;[a, b, c] = await Promise.all(['a', 'b', 'c'].map((id) => startNode(redis.url, id))) as [NodeProcess, NodeProcess, NodeProcess]
})

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.endAsync(true)))
})

afterAll(async () => {
  await Promise.all([a, b, c].filter(Boolean).map(stopNode))
  await redis?.stop()
})

const inboxes = new WeakMap<MqttClient, IPublishPacket[]>()

/** Connects with its inbox already listening: queued messages can arrive in the same read as the CONNACK. */
async function client(node: NodeProcess, clientId: string, options: IClientOptions = {}): Promise<MqttClient> {
  const connecting = connect({ host: '127.0.0.1', port: node.port, clientId, protocolVersion: 5, reconnectPeriod: 0, ...options })
  const received: IPublishPacket[] = []
  connecting.on('message', (_topic, _payload, packet) => received.push(packet))
  inboxes.set(connecting, received)
  clients.push(connecting)
  await new Promise<void>((resolve, reject) => {
    connecting.once('connect', () => resolve())
    connecting.once('error', reject)
  })
  return connecting
}

function inbox(connected: MqttClient): IPublishPacket[] {
  return inboxes.get(connected) as IPublishPacket[]
}

const payloads = (packets: IPublishPacket[]): string[] => packets.map((packet) => packet.payload.toString())

describe('a cluster of three nodes', () => {
  it('delivers a message published on one node to every matching subscriber on every node, once each and in order', async () => {
    const subscribers = await Promise.all([a, b, c].map((node) => client(node, `sub-${node.id}`)))
    const boxes = subscribers.map(inbox)
    await Promise.all(subscribers.map((s) => s.subscribeAsync('fan/#', { qos: 1 })))
    const publisher = await client(a, 'pub-fan')
    const count = 500
    const sent = Array.from({ length: count }, (_, i) => `m${i}`)
    await Promise.all(sent.map((payload) => publisher.publishAsync('fan/x', payload, { qos: 1 })))
    // a copy too many would arrive before a message the same publisher sends after
    await publisher.publishAsync('fan/x', 'end', { qos: 1 })
    for (const [i, box] of boxes.entries()) await until(() => box.at(-1)?.payload.toString() === 'end', `node ${i}'s subscriber`)
    for (const box of boxes) expect(payloads(box)).toEqual([...sent, 'end'])
  })

  it('never drops a message acknowledged on one node because a subscriber\'s queue on another node is full', async () => {
    const subscriber = await client(b, 'sub-flood')
    await subscriber.subscribeAsync('flood/#', { qos: 1 })
    const publisher = await client(a, 'pub-flood', { protocolVersion: 4 })
    // Two and a half times the default maxQueued, all published without waiting for a single ack.
    const sent = Array.from({ length: 2500 }, (_, i) => `f${i}`)
    await Promise.all(sent.map((payload) => publisher.publishAsync('flood/x', payload, { qos: 1 })))
    await until(() => inbox(subscriber).length >= sent.length, 'every acknowledged message', 30_000)
    expect(payloads(inbox(subscriber))).toEqual(sent)
  })

  it('keeps QoS 2 exactly once across nodes, for MQTT 3.1.1 and 5 subscribers', async () => {
    const subscribers = await Promise.all([
      client(b, 'q2-v5', { protocolVersion: 5 }),
      client(c, 'q2-v311', { protocolVersion: 4 }),
    ])
    await Promise.all(subscribers.map((s) => s.subscribeAsync('exact/+', { qos: 2 })))
    const publisher = await client(a, 'pub-q2', { protocolVersion: 4 })
    const sent = Array.from({ length: 200 }, (_, i) => `e${i}`)
    for (let i = 0; i < sent.length; i += 20) await Promise.all(sent.slice(i, i + 20).map((payload) => publisher.publishAsync('exact/1', payload, { qos: 2 })))
    await publisher.publishAsync('exact/1', 'end', { qos: 2 })
    for (const s of subscribers) await until(() => inbox(s).at(-1)?.payload.toString() === 'end', 'every QoS 2 message')
    for (const s of subscribers) {
      expect(payloads(inbox(s))).toEqual([...sent, 'end'])
      expect(inbox(s).every((packet) => packet.qos === 2)).toBe(true)
    }
  })

  it('a client leaving node A resumes its session and queued messages on node B', async () => {
    const options: IClientOptions = { clean: false, properties: { sessionExpiryInterval: 300 } }
    const first = await client(a, 'roamer', options)
    await first.subscribeAsync('roam/#', { qos: 1 })
    await first.endAsync()
    const publisher = await client(c, 'pub-roam')
    const queued = Array.from({ length: 20 }, (_, i) => `q${i}`)
    for (const payload of queued) await publisher.publishAsync('roam/1', payload, { qos: 1 })
    const resumed = await client(b, 'roamer', options)
    const box = inbox(resumed)
    await until(() => box.length >= queued.length, 'the queued messages')
    expect(payloads(box)).toEqual(queued)
    await publisher.publishAsync('roam/2', 'live', { qos: 1 })
    await until(() => box.length === queued.length + 1, 'a live message on the new node')
    expect(payloads(box).at(-1)).toBe('live')
  })

  it('takes a client over across nodes: the old connection gets DISCONNECT 0x8E, one connection remains', async () => {
    const old = await client(a, 'taker')
    await old.subscribeAsync('take/me', { qos: 1 })
    const oldBox = inbox(old)
    const disconnected = new Promise<number | undefined>((resolve) => old.once('disconnect', (packet) => resolve(packet.reasonCode)))
    const fresh = await client(b, 'taker')
    expect(await disconnected).toBe(0x8e)
    await fresh.subscribeAsync('take/me', { qos: 1 })
    const freshBox = inbox(fresh)
    const publisher = await client(c, 'pub-take')
    await publisher.publishAsync('take/me', 'once', { qos: 1 })
    await publisher.publishAsync('take/me', 'end', { qos: 1 })
    await until(() => freshBox.length === 2, 'the new connection to get the messages')
    expect(payloads(freshBox)).toEqual(['once', 'end'])
    expect(oldBox).toHaveLength(0)
    expect(old.connected).toBe(false)
    expect(fresh.connected).toBe(true)
  })

  it('gives each message of a shared subscription spread over the nodes to exactly one member', async () => {
    const members = await Promise.all([a, b, c].map((node) => client(node, `member-${node.id}`)))
    const boxes = members.map(inbox)
    await Promise.all(members.map((m) => m.subscribeAsync(['$share/g/shared/t', 'shared/end'], { qos: 1 })))
    const publishers = await Promise.all([a, c].map((node) => client(node, `pub-share-${node.id}`)))
    const count = 300
    await Promise.all(
      Array.from({ length: count }, (_, i) => (publishers[i % 2] as MqttClient).publishAsync('shared/t', `s${i}`, { qos: 1 })),
    )
    // Every member gets each publisher's end marker after whatever that publisher sent it before (order per publisher).
    await Promise.all(publishers.map((p) => p.publishAsync('shared/end', 'end', { qos: 1 })))
    const ends = (box: IPublishPacket[]): number => box.filter((packet) => packet.topic === 'shared/end').length
    for (const box of boxes) await until(() => ends(box) === publishers.length, 'both end markers on every member')
    const all = boxes.flatMap((box) => payloads(box.filter((packet) => packet.topic === 'shared/t')))
    expect(all).toHaveLength(count)
    expect(new Set(all).size).toBe(count)
    for (const box of boxes) expect(ends(box)).toBeLessThan(box.length)
  })

  it('shows a retained message published on one node from every node', async () => {
    const publisher = await client(b, 'pub-retain')
    await publisher.publishAsync('kept/topic', 'retained-value', { qos: 1, retain: true })
    for (const node of [a, b, c]) {
      const reader = await client(node, `reader-${node.id}`)
      const box = inbox(reader)
      await reader.subscribeAsync('kept/#', { qos: 1 })
      await until(() => box.length === 1, `the retained message on ${node.id}`)
      expect(box[0]?.retain).toBe(true)
      expect(box[0]?.payload.toString()).toBe('retained-value')
    }
  })

  it('publishes per-node $SYS with the cluster-wide node and client counts', async () => {
    const watchers = await Promise.all([a, b, c].map((node) => client(node, `sys-${node.id}`)))
    const watcher = watchers[0] as MqttClient
    const values = new Map<string, string>()
    watcher.on('message', (topic, payload) => values.set(topic, payload.toString()))
    await watcher.subscribeAsync('$SYS/broker/cluster/#')
    await until(
      () => values.get('$SYS/broker/cluster/nodes') === '3' && Number(values.get('$SYS/broker/cluster/clients/connected')) >= 3,
      'cluster $SYS values',
      5000,
    )
  })

  it('publishes the wills of a SIGKILLed node\'s clients once its lease runs out, once each', { timeout: 60_000 }, async () => {
    const watcher = await client(a, 'will-watcher')
    const box = inbox(watcher)
    await watcher.subscribeAsync('wills/#', { qos: 1 })
    const doomed = await Promise.all(
      ['d1', 'd2'].map((id) => client(c, `doomed-${id}`, { will: { topic: `wills/${id}`, payload: Buffer.from(`${id} is gone`), qos: 1, retain: false } })),
    )
    for (const d of doomed) d.on('error', () => {})
    // Nothing to wait for: CONNACK comes after the claim and the will are in Redis, which is all a survivor reads.
    c.child.kill('SIGKILL')
    await until(() => box.length === 2, 'both wills', LEASE_MS + HEARTBEAT_MS + 15_000)
    expect(payloads(box).sort()).toEqual(['d1 is gone', 'd2 is gone'])
    // An absence has no event: two more heartbeats give every survivor the chance to reap (and wrongly publish) again.
    await new Promise((resolve) => setTimeout(resolve, 2 * HEARTBEAT_MS))
    expect(box).toHaveLength(2)
  })
})
