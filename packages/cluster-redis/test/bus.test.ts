/**
 * The bus on its own: two or three instances in one process against one real redis-server, with handlers that
 * record what they are told.
 */
import { randomBytes } from 'node:crypto'
import { Redis, type RedisOptions } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { ClusterHandlers, Holdable, Message, RemoteDelivery, Subscription } from '@wren/core'
import { capturingLogger } from '../../core/test/helpers/logger.js'
import { startRedisServer, type RedisServer } from '../../persistence-redis/test/redis-server.js'
import { forwardsFrame } from '../src/frames.js'
import { type RedisClusterBus, type RedisClusterOptions, createRedisCluster } from '../src/index.js'

class Recorder implements ClusterHandlers {
  readonly delivered: Array<{ message: Message; deliveries: RemoteDelivery[] }> = []
  readonly added: Array<[string, Subscription]> = []
  readonly removed: Array<[string, string]> = []
  readonly released: string[] = []
  readonly down: Array<{ nodeId: string; clients: string[]; at: number }> = []
  readonly notices: string[][] = []
  releaseDelayMs = 0

  deliver(message: Message, deliveries: RemoteDelivery[]): null {
    this.delivered.push({ message, deliveries })
    return null
  }
  subscriptionAdded(clientId: string, subscription: Subscription): void {
    this.added.push([clientId, subscription])
  }
  subscriptionRemoved(clientId: string, filter: string): void {
    this.removed.push([clientId, filter])
  }
  async release(clientId: string): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, this.releaseDelayMs))
    this.released.push(clientId)
  }
  nodeDown(nodeId: string, clients: string[]): void {
    this.down.push({ nodeId, clients, at: Date.now() })
  }
  queued(clientIds: string[]): void {
    this.notices.push(clientIds)
  }
}

interface Node {
  bus: RedisClusterBus
  seen: Recorder
}

/** Polls `ready` every 10 ms; fails with `what` after the timeout. */
async function until(ready: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

let redis: RedisServer
let admin: Redis
let started: Node[] = []
let prefixSeq = 0
let prefix = ''

beforeAll(async () => {
  redis = await startRedisServer()
  admin = new Redis(redis.url)
})

afterAll(async () => {
  admin.disconnect()
  await redis.stop()
})

afterEach(async () => {
  await Promise.all(started.map((node) => node.bus.stop()))
  started = []
  prefix = ''
})

async function startNode(nodeId: string, options: Partial<RedisClusterOptions> = {}): Promise<Node> {
  prefix ||= `test${++prefixSeq}:`
  const bus = createRedisCluster({ url: redis.url, prefix, nodeId, leaseMs: 600, heartbeatMs: 150, ...options })
  const seen = new Recorder()
  await bus.start(seen)
  const node = { bus, seen }
  started.push(node)
  return node
}

/** Kills a node's Redis connections the way a crash or a partition would; it never reconnects. */
async function cutOff(connectionName: string): Promise<void> {
  const list = (await admin.client('LIST')) as string
  const ids = list
    .split('\n')
    .filter((line) => line.includes(` name=${connectionName} `))
    .map((line) => /id=(\d+)/.exec(line)?.[1])
  expect(ids.length).toBe(2)
  for (const id of ids) await admin.client('KILL', 'ID', id as string)
}

/**
 * Resolves once `from`'s earlier commands have run: a marker announcement issued after them on the same connection
 * has reached `to` (Redis runs one connection's commands in order, and publishes to a subscriber in order).
 */
let markers = 0
async function after(from: Node, to: Node): Promise<void> {
  const filter = `marker/${++markers}`
  from.bus.announceUnsubscription('marker', filter)
  await until(() => to.seen.removed.some(([, f]) => f === filter), `${to.bus.nodeId} to see ${from.bus.nodeId}'s marker`)
}

/** Resolves once each of `nodes` has run another full heartbeat (renew, reap, read counts) after this call. */
async function nextChecks(nodes: Node[]): Promise<void> {
  const mark = 1000 + ++markers
  for (const node of nodes) node.bus.reportClients(mark)
  // A node reads the others' counts at the end of its heartbeat, after its reaping.
  await until(() => nodes.every((node) => nodes.every((other) => other === node || node.bus.clientCounts().get(other.bus.nodeId) === mark)), 'another heartbeat on every node')
}

const unreconnectable = (name: string): RedisOptions => ({ connectionName: name, retryStrategy: () => null, maxRetriesPerRequest: 0 })

describe('forward', () => {
  it('delivers 1000 messages to the target node in order, payloads and properties byte for byte', async () => {
    const a = await startNode('a')
    const b = await startNode('b')
    const sent: Message[] = []
    for (let i = 0; i < 1000; i++) {
      const message: Message = {
        id: `a-${i}`,
        topic: `t/${i % 7}`,
        payload: randomBytes(i % 50),
        qos: (i % 3) as 0 | 1 | 2,
        retain: i % 2 === 0,
        origin: 'publisher',
      }
      if (i % 10 === 0) {
        message.properties = {
          correlationData: randomBytes(16),
          contentType: 'application/octet-stream',
          userProperties: { k: ['v1', 'v2'] },
          payloadFormatIndicator: false,
          responseTopic: 'reply/here',
          messageExpiryInterval: 60,
        }
        message.expiresAt = Date.now() + 60_000
      }
      sent.push(message)
      a.bus.forward('b', message, [{ clientId: `c${i % 3}`, qos: 1, retain: false, subscriptionIdentifiers: [i] }])
    }
    await until(() => b.seen.delivered.length === 1000, '1000 forwards')
    expect(b.seen.delivered.map((d) => d.message)).toEqual(sent)
    expect(b.seen.delivered.map((d) => d.deliveries[0]?.subscriptionIdentifiers?.[0])).toEqual(sent.map((_, i) => i))
    expect(a.seen.delivered).toHaveLength(0)
  })

  /**
   * Forwards `count` messages of `size` bytes from a to b, one per event-loop turn, while Redis holds every PUBLISH
   * (CLIENT PAUSE WRITE): the first one's PUBLISH stays on its way meanwhile. Returns what b got, and the frames a
   * spy subscribed to b's channel saw.
   */
  async function forwardWhilePaused(count: number, size: number): Promise<{ delivered: Message[]; sent: Message[]; frames: number }> {
    const a = await startNode('a')
    const b = await startNode('b')
    const spy = new Redis(redis.url)
    const channel = `${prefix}node:b`
    const marker = `${prefix}spy-marker`
    let frames = 0
    let marked = false
    spy.on('messageBuffer', (from: Buffer) => {
      if (from.toString() === channel) frames++
      else marked = true
    })
    await spy.subscribe(channel, marker)
    const sent: Message[] = []
    await admin.client('PAUSE', 60_000, 'WRITE')
    try {
      for (let i = 0; i < count; i++) {
        const message: Message = { id: `a-${i}`, topic: `t/${i}`, payload: Buffer.alloc(size, i), qos: 1, retain: false }
        sent.push(message)
        a.bus.forward('b', message, [{ clientId: 'c', qos: 1, retain: false }])
        await new Promise((resolve) => setImmediate(resolve))
      }
    } finally {
      await admin.client('UNPAUSE')
    }
    await until(() => b.seen.delivered.length === count, `${count} forwards`)
    // Redis writes to one subscriber in order: once the spy sees a later marker, it has seen every frame.
    await admin.publish(marker, 'after')
    await until(() => marked, 'the spy to see the marker')
    await spy.quit()
    return { delivered: b.seen.delivered.map((d) => d.message), sent, frames }
  }

  it('while a PUBLISH to a node is on its way, what is forwarded to it waits and follows in one frame, in order', async () => {
    const { delivered, sent, frames } = await forwardWhilePaused(100, 16)
    expect(delivered).toEqual(sent)
    expect(frames).toBe(2)
  })

  it('a backlog is cut into frames of about 256 KiB of payload, in order', async () => {
    // The first 130 KiB goes alone; the next two share a frame; the third starts another past 256 KiB.
    const { delivered, sent, frames } = await forwardWhilePaused(4, 130 * 1024)
    expect(delivered.map((m) => m.id)).toEqual(sent.map((m) => m.id))
    // Buffer.equals: a deep comparison of large buffers element by element takes seconds.
    expect(delivered.every((m, i) => m.payload.equals(sent[i]!.payload))).toBe(true)
    expect(frames).toBe(3)
  })

  it('hands a forward nobody hears back to the sending node, whose broker queues it in the store', async () => {
    const a = await startNode('a')
    const message: Message = { topic: 't', payload: Buffer.from('lost?'), qos: 1, retain: false }
    const deliveries: RemoteDelivery[] = [{ clientId: 'was-on-gone', qos: 1, retain: false }]
    a.bus.forward('gone', message, deliveries)
    await until(() => a.seen.delivered.length === 1, 'the forward to come back')
    expect(a.seen.delivered[0]).toEqual({ message, deliveries })
  })

  it('messages queued in the store for clients a node does not hold: each owner Redis names is told, itself included', async () => {
    const a = await startNode('a')
    const b = await startNode('b')
    await b.bus.claim('on-b')
    await a.bus.claim('on-a')
    // The owners as Redis has them: a need not have heard b's claim yet.
    a.bus.queued(['on-b', 'on-a', 'nowhere'])
    await until(() => b.seen.notices.length > 0 && a.seen.notices.length > 0, 'the notices')
    expect(b.seen.notices).toEqual([['on-b']])
    expect(a.seen.notices).toEqual([['on-a']])
  })
})

describe('bad input', () => {
  it('a malformed frame on a node\'s channel is logged and dropped; the forwards after it arrive', async () => {
    const logger = capturingLogger()
    const a = await startNode('a')
    const b = await startNode('b', { logger })
    // A forwards frame whose sender id runs past its end, and a kind no node sends.
    await admin.publish(`${prefix}node:b`, Buffer.from([1, 0, 9, 0x61]))
    await admin.publish(`${prefix}node:b`, Buffer.from([9, 0, 0]))
    a.bus.forward('b', { topic: 't', payload: Buffer.from('after'), qos: 0, retain: false }, [{ clientId: 'x', qos: 0, retain: false }])
    await until(() => b.seen.delivered.length === 1, 'the forward after the bad frames')
    expect(b.seen.delivered[0]?.message.payload.equals(Buffer.from('after'))).toBe(true)
    expect(logger.warnings).toEqual(['cluster bus operation failed', 'cluster bus operation failed'])
  })

  it('a large frame goes out from its own buffer, or through ioredis\' copy when the channel does not fit in its headroom', async () => {
    const payload = randomBytes(70_000)
    for (const name of ['short', 'long-prefix-'.repeat(25)]) {
      prefix = `${name}${++prefixSeq}:`
      const a = await startNode('a')
      const b = await startNode('b')
      a.bus.forward('b', { topic: 't', payload, qos: 1, retain: false }, [{ clientId: 'x', qos: 1, retain: false }])
      await until(() => b.seen.delivered.length === 1, `the forward (${name})`)
      expect(b.seen.delivered[0]?.message.payload.equals(payload)).toBe(true)
    }
  })

  it('a frame of forwards that arrives again is dropped; a new epoch of the same node id starts afresh', async () => {
    const b = await startNode('b')
    const frame = (epoch: number, seq: number, text: string): Buffer =>
      forwardsFrame('a', epoch, seq, [{ message: { topic: 't', payload: Buffer.from(text), qos: 1, retain: false }, deliveries: [{ clientId: 'x', qos: 1, retain: false }] }])
    for (const [epoch, seq, text] of [[1, 1, 'one'], [1, 2, 'two'], [1, 1, 'one again'], [1, 2, 'two again'], [1, 3, 'three'], [2, 1, 'restarted']] as const) {
      await admin.publish(`${prefix}node:b`, frame(epoch, seq, text))
    }
    await until(() => b.seen.delivered.length === 4, 'the frames')
    expect(b.seen.delivered.map((d) => d.message.payload.toString())).toEqual(['one', 'two', 'three', 'restarted'])
  })
})

describe('announcements', () => {
  it('reach every other node in order, not the announcing one', async () => {
    const a = await startNode('a')
    const b = await startNode('b')
    const c = await startNode('c')
    const subscription: Subscription = { filter: '$share/g/x/+', qos: 2, noLocal: true, retainHandling: 1, subscriptionIdentifier: 9 }
    a.bus.announceSubscription('x1', subscription)
    a.bus.announceSubscription('x1', { filter: 'y/#', qos: 0 })
    a.bus.announceUnsubscription('x1', 'y/#')
    for (const node of [b, c]) {
      await until(() => node.seen.removed.length === 1, `unsubscription on ${node.bus.nodeId}`)
      expect(node.seen.added).toEqual([
        ['x1', subscription],
        ['x1', { filter: 'y/#', qos: 0 }],
      ])
      expect(node.seen.removed).toEqual([['x1', 'y/#']])
    }
    expect(a.seen.added).toHaveLength(0)
    expect(a.seen.removed).toHaveLength(0)
  })
})

describe('ownership', () => {
  it('claim records the owner everywhere; disown clears it only for the owner', async () => {
    const a = await startNode('a')
    const b = await startNode('b')
    expect(await a.bus.claim('x')).toBeUndefined()
    await until(() => b.bus.ownerOf('x') === 'a', 'b to see a own x')
    expect(a.bus.ownerOf('x')).toBe('a')
    expect(await admin.smembers(`${prefix}node-clients:a`)).toEqual(['x'])
    b.bus.disown('x')
    a.bus.disown('x')
    await until(() => b.bus.ownerOf('x') === undefined, 'b to see x gone')
    expect(await admin.hgetall(`${prefix}owners`)).toEqual({})
  })

  it('takeover: the old node is asked to release and the claim waits for its answer', async () => {
    const a = await startNode('a')
    const b = await startNode('b')
    const c = await startNode('c')
    await a.bus.claim('x')
    a.seen.releaseDelayMs = 200
    const started = Date.now()
    expect(await b.bus.claim('x')).toBe('a')
    const took = Date.now() - started
    expect(a.seen.released).toEqual(['x'])
    expect(took).toBeGreaterThanOrEqual(190)
    expect(took).toBeLessThan(1000)
    // The old node's late disown must not clear the new owner.
    a.bus.disown('x')
    for (const node of [a, b, c]) await until(() => node.bus.ownerOf('x') === 'b', `${node.bus.nodeId} to see b own x`)
    await after(a, c)
    expect(await admin.hgetall(`${prefix}owners`)).toEqual({ x: 'b' })
    expect(await admin.smembers(`${prefix}node-clients:a`)).toEqual([])
    expect(c.bus.ownerOf('x')).toBe('b')
  })

  it('a claim from a node that is gone does not wait for an answer', async () => {
    const a = await startNode('a', { redis: unreconnectable('gone-a'), leaseMs: 5000, heartbeatMs: 1000 })
    const b = await startNode('b', { leaseMs: 5000, heartbeatMs: 1000 })
    await a.bus.claim('x')
    await cutOff('gone-a')
    const started = Date.now()
    expect(await b.bus.claim('x')).toBe('a')
    expect(Date.now() - started).toBeLessThan(500)
    expect(a.seen.released).toEqual([])
  })
})

describe('leases', () => {
  it('a node that stops renewing is declared dead by exactly one survivor, with its client list', async () => {
    const a = await startNode('a')
    const b = await startNode('b')
    const c = await startNode('c', { redis: unreconnectable('victim') })
    await a.bus.claim('a1')
    await c.bus.claim('c1')
    await c.bus.claim('c2')
    await b.bus.claim('moved')
    await c.bus.claim('moved')
    c.bus.reportClients(3)
    await until(() => a.bus.nodes().length === 3 && b.bus.ownerOf('c2') === 'c', 'three nodes')
    await until(() => a.bus.clientCounts().get('c') === 3, 'c to report its clients')
    const killedAt = Date.now()
    await cutOff('victim')
    await until(() => a.seen.down.length + b.seen.down.length > 0, 'nodeDown', 3000)
    // Every survivor checks again: none may report the same node again.
    await nextChecks([a, b])
    const reports = [...a.seen.down, ...b.seen.down]
    expect(reports).toHaveLength(1)
    const report = reports[0]!
    expect(report.nodeId).toBe('c')
    expect(report.clients.sort()).toEqual(['c1', 'c2', 'moved'])
    // Worst case: the lease outlives the last renewal by leaseMs, and a survivor checks every heartbeatMs.
    expect(report.at - killedAt).toBeLessThanOrEqual(600 + 150 + 400)
    for (const node of [a, b]) {
      expect(node.bus.nodes().sort()).toEqual(['a', 'b'])
      expect(node.bus.ownerOf('c1')).toBeUndefined()
      expect(node.bus.ownerOf('a1')).toBe('a')
      expect(node.bus.clientCounts().has('c')).toBe(false)
    }
    expect(await admin.hgetall(`${prefix}owners`)).toEqual({ a1: 'a' })
    expect(await admin.exists(`${prefix}node-clients:c`)).toBe(0)
  })

  it('a node declared dead while it was only cut off lets its clients go when it comes back', async () => {
    const a = await startNode('a')
    // Its command connection comes back only after a second, well past its 600 ms lease.
    const b = await startNode('b', { redis: { connectionName: 'paused', retryStrategy: () => 1000 } })
    await b.bus.claim('x')
    await until(() => a.bus.ownerOf('x') === 'b', 'a to see b own x')
    const list = (await admin.client('LIST')) as string
    const commandId = list
      .split('\n')
      .find((line) => line.includes(' name=paused ') && / sub=0 /.test(line))
      ?.match(/id=(\d+)/)?.[1]
    await admin.client('KILL', 'ID', commandId as string)
    await until(() => a.seen.down.length === 1, 'a to declare b dead')
    expect(a.seen.down[0]).toMatchObject({ nodeId: 'b', clients: ['x'] })
    await until(() => b.seen.released.length === 1, 'b to release x once back')
    expect(b.seen.released).toEqual(['x'])
    await until(() => a.bus.nodes().includes('b'), 'b to rejoin')
    expect(await b.bus.claim('x')).toBeUndefined()
  })
})

describe('client counts', () => {
  it('each node reports its count with its heartbeat', async () => {
    const a = await startNode('a')
    const b = await startNode('b')
    a.bus.reportClients(5)
    b.bus.reportClients(7)
    await until(() => a.bus.clientCounts().get('b') === 7 && b.bus.clientCounts().get('a') === 5, 'counts')
    expect(Object.fromEntries(a.bus.clientCounts())).toEqual({ a: 5, b: 7 })
  })
})

describe('lost subscription', () => {
  it('a node whose subscriber connection dropped replays the broadcasts it missed, once each, and lets its clients go', async () => {
    const a = await startNode('a')
    const b = await startNode('b', { redis: { connectionName: 'flaky' } })
    const list = (await admin.client('LIST')) as string
    const subscriberId = list
      .split('\n')
      .find((line) => line.includes(' name=flaky ') && / sub=[1-9]/.test(line))
      ?.match(/id=(\d+)/)?.[1]
    expect(subscriberId).toBeDefined()
    await b.bus.claim('live-on-b')
    await admin.client('KILL', 'ID', subscriberId as string)
    for (let i = 0; i < 50; i++) a.bus.announceSubscription(`c${i}`, { filter: `f/${i}`, qos: 1 })
    await a.bus.claim('owned-meanwhile')
    await until(() => b.seen.added.length === 50 && b.bus.ownerOf('owned-meanwhile') === 'a', 'b to catch up')
    expect(b.seen.added.map(([clientId]) => clientId)).toEqual(Array.from({ length: 50 }, (_, i) => `c${i}`))
    a.bus.announceSubscription('after', { filter: 'g', qos: 0 })
    await until(() => b.seen.added.length === 51, 'the next announcement')
    expect(b.seen.added[50]?.[0]).toBe('after')
    // Forwards meant for b during the gap went to the store: its client resumes from there.
    expect(b.seen.released).toEqual(['live-on-b'])
  })
})

/** A publisher as the core holds one: counted holds. */
class Publisher implements Holdable {
  holds = 0
  hold(): void {
    this.holds++
  }
  release(): void {
    this.holds--
  }
}

describe('backpressure', () => {
  it('a full session on one node holds the publishers of its messages on another until room, or until that node is gone', async () => {
    const a = await startNode('a')
    const b = await startNode('b', { redis: unreconnectable('full-b') })
    const message: Message = { topic: 't', payload: Buffer.from('p'), qos: 1, retain: false }
    const toSlow: RemoteDelivery[] = [{ clientId: 'slow', qos: 1, retain: false }]
    const slowPublisher = new Publisher()
    const otherPublisher = new Publisher()
    const senders = b.bus.senders('a', 'slow')
    senders.hold()
    await after(b, a)
    a.bus.forward('b', message, toSlow, slowPublisher)
    a.bus.forward('b', message, toSlow, slowPublisher)
    a.bus.forward('b', message, [{ clientId: 'fast', qos: 1, retain: false }], otherPublisher)
    expect(slowPublisher.holds).toBe(1)
    expect(otherPublisher.holds).toBe(0)
    senders.release()
    await after(b, a)
    expect(slowPublisher.holds).toBe(0)
    // Held again; then b dies holding it: a lets go once b is declared dead.
    b.bus.senders('a', 'slow').hold()
    await after(b, a)
    a.bus.forward('b', message, toSlow, slowPublisher)
    expect(slowPublisher.holds).toBe(1)
    await cutOff('full-b')
    await until(() => slowPublisher.holds === 0, 'a to let the publisher go when b is declared dead')
  })
})

describe('stop', () => {
  it('removes the node\'s lease, membership, clients and count; the others see it leave', async () => {
    const a = await startNode('a')
    const b = await startNode('b')
    await b.bus.claim('x')
    await until(() => a.bus.ownerOf('x') === 'b' && a.bus.nodes().includes('b'), 'a to see b')
    await b.bus.stop()
    started = started.filter((node) => node !== b)
    await until(() => !a.bus.nodes().includes('b') && a.bus.ownerOf('x') === undefined, 'a to see b leave')
    expect(await admin.exists(`${prefix}lease:b`, `${prefix}node-clients:b`)).toBe(0)
    expect(await admin.smembers(`${prefix}nodes`)).toEqual(['a'])
    expect(await admin.hkeys(`${prefix}counts`)).toEqual(['a'])
    expect(await admin.hgetall(`${prefix}owners`)).toEqual({})
    expect(a.seen.down).toEqual([])
    await a.bus.stop()
    started = []
    expect((await admin.keys(`${prefix}*`)).sort()).toEqual([`${prefix}events`])
  })
})

describe('prefix isolation', () => {
  it('two clusters on one Redis never see each other', async () => {
    const one = await startNode('n1', { prefix: 'one:' })
    const other = await startNode('n1', { prefix: 'other:' })
    const otherPeer = await startNode('n2', { prefix: 'other:' })
    await one.bus.claim('x')
    one.bus.announceSubscription('x', { filter: 'a', qos: 0 })
    one.bus.forward('n1', { topic: 't', payload: Buffer.from('p'), qos: 0, retain: false }, [{ clientId: 'x', qos: 0, retain: false }])
    otherPeer.bus.announceSubscription('y', { filter: 'b', qos: 0 })
    await until(() => one.seen.delivered.length === 1 && other.seen.added.length === 1, 'own-cluster traffic')
    // Anything of `one`'s that reached `other` would have arrived before a later announcement of its own cluster.
    await after(otherPeer, other)
    expect(other.bus.ownerOf('x')).toBeUndefined()
    expect(other.seen.delivered).toEqual([])
    expect(other.seen.added).toEqual([['y', { filter: 'b', qos: 0 }]])
    expect(other.seen.removed.every(([clientId]) => clientId === 'marker')).toBe(true)
    expect(one.seen.added).toEqual([])
    expect(one.bus.nodes()).toEqual(['n1'])
    expect(other.bus.nodes().sort()).toEqual(['n1', 'n2'])
  })
})
