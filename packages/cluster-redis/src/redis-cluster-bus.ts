import { randomBytes } from 'node:crypto'
import { Cluster, type ClusterNode, type ClusterOptions, Redis, type RedisOptions } from 'ioredis'
import type { ClusterBus, ClusterHandlers, Logger, Message, RemoteDelivery, Subscription } from '@wren/core'
import { type ClusterEvent, compareStreamIds, encodeEvent, parseEvent, parsePublished } from './events.js'
import { Forwarding } from './forwarding.js'
import { FrameKind, decodeFrame, releasedFrame, type Frame } from './frames.js'
import { ClusterKeys } from './keys.js'
import { ReleaseRequests } from './release-requests.js'
import { ANNOUNCE, CLAIM, DISOWN, HEARTBEAT, LEAVE, REAP } from './scripts.js'

export interface RedisClusterOptions {
  /** e.g. 'redis://127.0.0.1:6379/0'. */
  url?: string
  /** ioredis options for both connections (with `url`, they add to it): host, port, password, tls, Sentinel's `sentinels` and `name`... */
  redis?: RedisOptions
  /** A Redis Cluster instead of one server (ioredis' `Cluster`): its seed nodes and options. Then `prefix` needs a hash tag. */
  redisCluster?: { nodes: ClusterNode[]; options?: ClusterOptions }
  /** Put before every key and channel. Default 'wren:cluster:'. */
  prefix?: string
  /** Unique per node; becomes the broker id. Default: generated. */
  nodeId?: string
  /** How long a node's lease lives without renewal: after it, the node is declared dead. Default 3000 ms. */
  leaseMs?: number
  /** How often a node renews its lease, reports its client count and looks for dead nodes. Default 1000 ms. */
  heartbeatMs?: number
  /** Broadcast events kept in Redis for a node that lost its subscription to catch up from. Default 10000. */
  eventLogLength?: number
  logger?: Logger
}

type Connection = Redis | Cluster
type ScriptCall = (...args: Array<string | number | Buffer>) => Promise<unknown>

const SCRIPTS = { wrenAnnounce: [1, ANNOUNCE], wrenClaim: [3, CLAIM], wrenDisown: [3, DISOWN], wrenHeartbeat: [3, HEARTBEAT], wrenReap: [4, REAP], wrenLeave: [6, LEAVE] } as const
type ScriptName = keyof typeof SCRIPTS

const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} }

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) throw new TypeError(`${name} must be a positive integer, got ${value}`)
  return value
}

/**
 * A `ClusterBus` on one Redis (or Sentinel-managed Redis, or Redis Cluster through ioredis' options).
 * Forwards, release requests and their replies go on the target node's pub/sub channel; ownership changes and
 * subscription announcements go through Lua scripts that change the state, append to an event stream and
 * publish on the broadcast channel in one atomic step, so every node applies them in Redis' order.
 * docs/cluster.md explains the design and its failure modes.
 *
 * This class keeps membership (leases, heartbeat, dead nodes), ownership (who holds which client) and the event
 * feed (applied in stream order, caught up after a lost subscription); `Forwarding` batches messages for other
 * nodes and `ReleaseRequests` runs the hand-over of a client.
 */
export class RedisClusterBus implements ClusterBus {
  readonly nodeId: string
  private readonly keys: ClusterKeys
  private readonly leaseMs: number
  private readonly heartbeatMs: number
  private readonly eventLogLength: number
  private readonly logger: Logger
  private readonly command: Connection
  private readonly subscriber: Connection
  /** PUBLISH's receiver count is exact on one server; on Redis Cluster it counts one shard's subscribers only. */
  private readonly exactReceivers: boolean
  private handlers: ClusterHandlers | null = null
  /** clientId -> owning node, for every client connected anywhere in the cluster. */
  private readonly owners = new Map<string, string>()
  /** Clients this node claimed and has not disowned. */
  private readonly mine = new Set<string>()
  private live = new Set<string>()
  private counts = new Map<string, number>()
  private reported = 0
  /** Stream id of the last broadcast event applied: older ones (replayed or re-published) are skipped. */
  private lastEventId = '0-0'
  /** While not null, pub/sub messages wait here: during start and while catching up after a lost subscription. */
  private held: Array<[string, Buffer]> | null = []
  private readonly forwarding: Forwarding
  private readonly releases: ReleaseRequests
  private timer: NodeJS.Timeout | null = null
  private ticking = false
  private started = false
  private stopping = false

  constructor(options: RedisClusterOptions = {}) {
    this.nodeId = options.nodeId ?? `wren-node-${randomBytes(4).toString('hex')}`
    const prefix = options.prefix ?? 'wren:cluster:'
    if (prefix === '') throw new TypeError('prefix must not be empty')
    this.keys = new ClusterKeys(prefix)
    this.leaseMs = positiveInteger('leaseMs', options.leaseMs ?? 3000)
    this.heartbeatMs = positiveInteger('heartbeatMs', options.heartbeatMs ?? 1000)
    if (this.heartbeatMs >= this.leaseMs) throw new TypeError(`heartbeatMs (${this.heartbeatMs}) must be shorter than leaseMs (${this.leaseMs})`)
    this.eventLogLength = positiveInteger('eventLogLength', options.eventLogLength ?? 10_000)
    this.logger = options.logger ?? silentLogger
    const connect = (extra: RedisOptions): Connection => {
      if (options.redisCluster) return new Cluster(options.redisCluster.nodes, { ...extra, ...options.redisCluster.options })
      const redisOptions = { ...extra, ...options.redis }
      return options.url ? new Redis(options.url, redisOptions) : new Redis(redisOptions)
    }
    this.exactReceivers = !options.redisCluster
    // Forwards issued in one tick share one socket write (in order); the subscriber connection stays plain.
    this.command = connect({ enableAutoPipelining: true })
    this.subscriber = connect({})
    for (const [name, connection] of [['command', this.command], ['subscriber', this.subscriber]] as const) {
      connection.on('error', (error: Error) => this.logger.warn({ err: error, connection: name, nodeId: this.nodeId }, 'cluster redis connection error'))
    }
    for (const [name, [numberOfKeys, lua]] of Object.entries(SCRIPTS)) this.command.defineCommand(name, { numberOfKeys, lua })
    const publish = (nodeId: string, frame: Buffer): Promise<number> => this.command.publish(this.keys.channel(nodeId), frame)
    const failed = (error: unknown, action: string): void => this.failed(error, action)
    // A forward nobody heard is handed to this node's broker, which finds none of these sessions here and queues
    // the messages in the store for those that persist.
    this.forwarding = new Forwarding(publish, this.exactReceivers, (message, deliveries) => this.handlers?.deliver(message, deliveries), failed)
    this.releases = new ReleaseRequests(this.nodeId, this.leaseMs, publish, this.exactReceivers, failed)
  }

  async start(handlers: ClusterHandlers): Promise<void> {
    if (this.started) throw new Error('cluster bus already started')
    this.started = true
    this.handlers = handlers
    this.subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => this.received(channel.toString(), message))
    // A SUBSCRIBE that reaches Redis during ioredis' ready check (INFO) fails the check and forces a reconnect,
    // whose 'ready' would then be taken for a lost subscription and release every client.
    if (this.subscriber.status !== 'ready') await new Promise((resolve) => this.subscriber.once('ready', resolve))
    await this.subscriber.subscribe(this.keys.broadcast, this.keys.channel(this.nodeId))
    await this.heartbeat()
    await this.announce({ t: 'join', n: this.nodeId })
    await this.snapshot()
    this.releaseHeld()
    this.subscriber.on('ready', () => void this.catchUp())
    this.timer = setInterval(() => void this.tick(), this.heartbeatMs)
    // The broker's listeners keep the process alive, not the cluster's heartbeat.
    this.timer.unref()
  }

  ownerOf(clientId: string): string | undefined {
    return this.owners.get(clientId)
  }

  async claim(clientId: string): Promise<string | undefined> {
    this.mine.add(clientId)
    const event = encodeEvent({ t: 'own', n: this.nodeId, c: clientId })
    let previous: string | null
    try {
      previous = (await this.script('wrenClaim')(
        this.keys.owners, this.keys.events, this.keys.nodeClients(this.nodeId),
        this.keys.broadcast, this.eventLogLength, this.keys.prefix, this.nodeId, clientId, event,
      )) as string | null
    } catch (error) {
      this.mine.delete(clientId)
      throw error
    }
    if (previous === null) return undefined
    if (previous !== this.nodeId) await this.releases.request(previous, clientId)
    return previous
  }

  disown(clientId: string): void {
    this.mine.delete(clientId)
    const event = encodeEvent({ t: 'left', n: this.nodeId, c: clientId })
    this.script('wrenDisown')(
      this.keys.owners, this.keys.events, this.keys.nodeClients(this.nodeId),
      this.keys.broadcast, this.eventLogLength, this.nodeId, clientId, event,
    ).catch((error: unknown) => this.failed(error, 'disown'))
  }

  forward(nodeId: string, message: Message, deliveries: RemoteDelivery[]): void {
    this.forwarding.forward(nodeId, message, deliveries)
  }

  announceSubscription(clientId: string, subscription: Subscription): void {
    this.announce({ t: 'sub', n: this.nodeId, c: clientId, s: subscription }).catch((error: unknown) => this.failed(error, 'announce subscription'))
  }

  announceUnsubscription(clientId: string, filter: string): void {
    this.announce({ t: 'unsub', n: this.nodeId, c: clientId, f: filter }).catch((error: unknown) => this.failed(error, 'announce unsubscription'))
  }

  nodes(): string[] {
    return [...this.live]
  }

  clientCounts(): Map<string, number> {
    const counts = new Map(this.counts)
    counts.set(this.nodeId, this.reported)
    return counts
  }

  reportClients(count: number): void {
    this.reported = count
  }

  async stop(): Promise<void> {
    if (this.stopping) return
    this.stopping = true
    // Forwards made in this tick still go out before the connections close.
    this.forwarding.flush()
    if (this.timer) clearInterval(this.timer)
    this.releases.finishAll()
    const k = this.keys
    if (this.command.status === 'ready') {
      await this.script('wrenLeave')(k.lease(this.nodeId), k.nodes, k.counts, k.nodeClients(this.nodeId), k.owners, k.events, k.broadcast, this.eventLogLength, this.nodeId)
        .catch((error: unknown) => this.failed(error, 'leave'))
    }
    this.mine.clear()
    await Promise.all([this.close(this.subscriber), this.close(this.command)])
  }

  private async close(connection: Connection): Promise<void> {
    if (connection.status === 'ready') await connection.quit().catch(() => connection.disconnect())
    else connection.disconnect()
  }

  private script(name: ScriptName): ScriptCall {
    const call = (this.command as unknown as Record<ScriptName, ScriptCall>)[name]
    return call.bind(this.command)
  }

  private announce(event: ClusterEvent): Promise<unknown> {
    return this.script('wrenAnnounce')(this.keys.events, this.keys.broadcast, this.eventLogLength, encodeEvent(event))
  }

  /** Renews the lease; finding itself no longer a member means this node was declared dead meanwhile. */
  private async heartbeat(): Promise<void> {
    const k = this.keys
    const member = await this.script('wrenHeartbeat')(k.lease(this.nodeId), k.nodes, k.counts, this.nodeId, this.leaseMs, this.reported)
    if (member === 0 && this.handlers && !this.stopping) this.declaredDead()
  }

  /** The owners, members and counts as of one stream id, read atomically. */
  private async snapshot(): Promise<void> {
    const k = this.keys
    const replies = (await this.command.multi().hgetall(k.owners).xrevrange(k.events, '+', '-', 'COUNT', 1).smembers(k.nodes).hgetall(k.counts).exec()) ?? []
    const [owners, newest, members, counts] = replies.map(([error, reply]) => {
      if (error) throw error
      return reply
    }) as [Record<string, string>, Array<[string, string[]]>, string[], Record<string, string>]
    this.owners.clear()
    for (const [clientId, node] of Object.entries(owners)) this.owners.set(clientId, node)
    this.lastEventId = newest[0]?.[0] ?? '0-0'
    this.live = new Set(members)
    this.counts = new Map(Object.entries(counts).map(([node, count]) => [node, Number(count)]))
  }

  /** Lets held pub/sub messages through, in the order they arrived. */
  private releaseHeld(): void {
    const held = this.held ?? []
    this.held = null
    for (const [channel, message] of held) this.dispatch(channel, message)
  }

  private received(channel: string, message: Buffer): void {
    if (this.held) this.held.push([channel, message])
    else this.dispatch(channel, message)
  }

  private dispatch(channel: string, message: Buffer): void {
    try {
      if (channel === this.keys.broadcast) {
        const { id, event } = parsePublished(message.toString())
        this.applyLogged(id, event)
      } else {
        this.onFrame(message)
      }
    } catch (error) {
      this.failed(error, 'handle cluster message')
    }
  }

  private applyLogged(id: string, event: ClusterEvent): void {
    if (compareStreamIds(id, this.lastEventId) <= 0) return
    this.lastEventId = id
    this.apply(event)
  }

  private apply(event: ClusterEvent): void {
    const handlers = this.handlers
    if (!handlers) return
    switch (event.t) {
      case 'sub':
        if (event.n !== this.nodeId) handlers.subscriptionAdded(event.c, event.s)
        break
      case 'unsub':
        if (event.n !== this.nodeId) handlers.subscriptionRemoved(event.c, event.f)
        break
      case 'own':
        this.owners.set(event.c, event.n)
        break
      case 'left':
        if (this.owners.get(event.c) === event.n) this.owners.delete(event.c)
        break
      case 'join':
        this.live.add(event.n)
        break
      case 'down':
        this.forgetNode(event.n)
        if (event.n === this.nodeId && !this.stopping) this.declaredDead()
        break
    }
  }

  private forgetNode(nodeId: string): void {
    this.live.delete(nodeId)
    this.counts.delete(nodeId)
    for (const [clientId, owner] of this.owners) if (owner === nodeId) this.owners.delete(clientId)
  }

  private onFrame(message: Buffer): void {
    this.handleFrame(decodeFrame(message))
  }

  private handleFrame(frame: Frame): void {
    switch (frame.kind) {
      case FrameKind.Batch:
        for (const inner of frame.frames) this.handleFrame(inner)
        break
      case FrameKind.Forward:
        this.handlers?.deliver(frame.message, frame.deliveries)
        break
      case FrameKind.Release: {
        const { c: clientId, r: request, n: claimer } = frame.header
        const handlers = this.handlers
        void Promise.resolve()
          .then(() => handlers?.release(clientId))
          .catch((error: unknown) => this.failed(error, 'release'))
          .then(() => this.command.publish(this.keys.channel(claimer), releasedFrame({ r: request })))
          .catch((error: unknown) => this.failed(error, 'answer release'))
        break
      }
      case FrameKind.Released:
        this.releases.answered(frame.header.r)
        break
    }
  }

  /**
   * Another node declared this one dead (its lease ran out: a pause, or Redis unreachable) and adopted its
   * clients, whose wills have been published. Their connections here are stale: they go, and reconnect.
   */
  private declaredDead(): void {
    this.releaseAll('cluster declared this node dead: releasing its clients')
  }

  private releaseAll(why: string): void {
    const clients = [...this.mine]
    if (clients.length === 0) return
    this.logger.error({ nodeId: this.nodeId, clients: clients.length }, why)
    this.mine.clear()
    for (const clientId of clients) this.handlers?.release(clientId).catch((error: unknown) => this.failed(error, 'release'))
  }

  /** Once per heartbeat: renew the lease, declare expired nodes dead, refresh members and client counts. */
  private async tick(): Promise<void> {
    if (this.ticking || this.stopping) return
    this.ticking = true
    try {
      await this.heartbeat()
      await this.reap()
      const k = this.keys
      const [members, counts] = await Promise.all([this.command.smembers(k.nodes), this.command.hgetall(k.counts)])
      if (this.stopping) return
      this.live = new Set(members)
      this.counts = new Map(Object.entries(counts).map(([node, count]) => [node, Number(count)]))
    } catch (error) {
      this.failed(error, 'heartbeat')
    } finally {
      this.ticking = false
    }
  }

  private async reap(): Promise<void> {
    const k = this.keys
    const reaped = (await this.script('wrenReap')(k.nodes, k.owners, k.counts, k.events, k.broadcast, this.eventLogLength, k.prefix, this.nodeId)) as Array<string | string[]>
    for (let i = 0; i + 1 < reaped.length; i += 2) {
      const nodeId = reaped[i] as string
      const clients = reaped[i + 1] as string[]
      this.logger.warn({ nodeId, clients: clients.length, by: this.nodeId }, 'cluster node lease expired: adopting its clients')
      // The local view must not still show them online when the broker adopts them.
      this.forgetNode(nodeId)
      this.handlers?.nodeDown(nodeId, clients)
    }
  }

  /**
   * The subscriber connection came back: whatever was broadcast meanwhile is replayed from the event stream.
   * Forwards sent here meanwhile reached nobody, so their senders queued them in the store: this node's
   * clients are let go, to resume from the store (on any node) with those messages in order.
   */
  private async catchUp(): Promise<void> {
    if (this.stopping || this.held) return
    this.held = []
    try {
      await this.subscriber.subscribe(this.keys.broadcast, this.keys.channel(this.nodeId))
      this.releaseAll('cluster subscription was lost: releasing this node\'s clients to resume from the store')
      const entries = (await this.command.xrange(this.keys.events, this.lastEventId, '+')) as Array<[string, string[]]>
      if (entries[0]?.[0] !== this.lastEventId) {
        this.logger.error({ nodeId: this.nodeId }, 'cluster events were trimmed before this node caught up: ownership reloaded, subscriptions made meanwhile on other nodes are missing here')
        await this.snapshot()
      } else {
        for (const [id, fields] of entries) this.applyLogged(id, parseEvent(fields[1] ?? '{}'))
      }
    } catch (error) {
      this.failed(error, 'catch up')
    } finally {
      this.releaseHeld()
    }
  }

  private failed(error: unknown, action: string): void {
    if (this.stopping) return
    this.logger.warn({ err: error, nodeId: this.nodeId, action }, 'cluster bus operation failed')
  }
}

export function createRedisCluster(options: RedisClusterOptions = {}): RedisClusterBus {
  return new RedisClusterBus(options)
}
