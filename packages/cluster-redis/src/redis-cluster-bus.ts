import { randomBytes } from 'node:crypto'
import type { ClusterNode, ClusterOptions, RedisOptions } from 'ioredis'
import type { ClusterBus, ClusterHandlers, Holdable, Logger, Message, RemoteDelivery, Subscription } from '@wren/core'
import { Backpressure } from './backpressure.js'
import { BusConnections } from './connections.js'
import { EventFeed, type Snapshot } from './event-feed.js'
import { type ClusterEvent, encodeEvent } from './events.js'
import { ForwardPublish, FramePublish } from './frame-publish.js'
import { Forwarding } from './forwarding.js'
import { type Forward, FrameKind, decodeFrame, queuedFrame, releasedFrame } from './frames.js'
import { ClusterKeys } from './keys.js'
import { Membership } from './membership.js'
import { Ownership } from './ownership.js'
import { QueuedNotices } from './queued-notices.js'
import { ReleaseRequests } from './release-requests.js'
import { SeenFrames } from './seen-frames.js'
import { within } from './within.js'

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
  /**
   * Per target node, bytes of forwards that Redis has not taken yet (each counted as its payload plus 256), past
   * which the publishers of further forwards to that node are held until half of it is gone. Default 64 MiB.
   */
  forwardBacklogBytes?: number
  logger?: Logger
}

const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} }

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) throw new TypeError(`${name} must be a positive integer, got ${value}`)
  return value
}

/**
 * A `ClusterBus` on one Redis (or Sentinel-managed Redis, or Redis Cluster through ioredis' options).
 * Forwards, release requests, backpressure signals and their replies go on the target node's pub/sub channel;
 * ownership changes and subscription announcements go through Lua scripts that change the state, append to an
 * event stream and publish on the broadcast channel in one atomic step, so every node applies them in Redis' order.
 * docs/cluster.md explains the design and its failure modes.
 *
 * This class wires the parts together and routes what arrives to them: `Membership` (leases, heartbeat, dead
 * nodes), `Ownership` (who holds which client), `EventFeed` (events in stream order, catch-up after a lost
 * subscription), `Forwarding` (what goes to other nodes' channels: forwards batched per PUBLISH, control frames after them), `Backpressure` (publishers held across nodes)
 * and `ReleaseRequests` (the hand-over of a client).
 */
export class RedisClusterBus implements ClusterBus {
  readonly nodeId: string
  private readonly keys: ClusterKeys
  private readonly eventLogLength: number
  private readonly logger: Logger
  private readonly heartbeatMs: number
  private readonly redis: BusConnections
  private readonly membership: Membership
  private readonly ownership: Ownership
  private readonly feed: EventFeed
  private readonly forwarding: Forwarding
  private readonly backpressure: Backpressure
  private readonly releases: ReleaseRequests
  private readonly notices: QueuedNotices
  private readonly seen = new SeenFrames()
  private handlers: ClusterHandlers | null = null
  private started = false
  private stopping = false

  constructor(options: RedisClusterOptions = {}) {
    const nodeId = (this.nodeId = options.nodeId ?? `wren-node-${randomBytes(4).toString('hex')}`)
    const prefix = options.prefix ?? 'wren:cluster:'
    if (prefix === '') throw new TypeError('prefix must not be empty')
    const keys = (this.keys = new ClusterKeys(prefix))
    const leaseMs = positiveInteger('leaseMs', options.leaseMs ?? 3000)
    const heartbeatMs = (this.heartbeatMs = positiveInteger('heartbeatMs', options.heartbeatMs ?? 1000))
    if (heartbeatMs >= leaseMs) throw new TypeError(`heartbeatMs (${heartbeatMs}) must be shorter than leaseMs (${leaseMs})`)
    const eventLogLength = (this.eventLogLength = positiveInteger('eventLogLength', options.eventLogLength ?? 10_000))
    const logger = (this.logger = options.logger ?? silentLogger)
    const redis = (this.redis = new BusConnections(options, nodeId, logger))
    const failed = (error: unknown, action: string): void => this.failed(error, action)
    // A forward nobody heard is handed to this node's broker, which finds none of these sessions here and queues
    // the messages in the store for those that persist.
    // A frame whose PUBLISH failed is sent again at the heartbeat's pace.
    this.forwarding = new Forwarding({
      nodeId,
      publish: (to, frame) =>
        redis.command.sendCommand(frame.length >= FramePublish.MIN_BYTES ? new FramePublish(keys.channel(to), frame) : new ForwardPublish(keys.channel(to), frame)) as Promise<number>,
      publishControl: (to, frame) => redis.command.publish(keys.channel(to), frame),
      exactReceivers: redis.exactReceivers,
      backlogBytes: positiveInteger('forwardBacklogBytes', options.forwardBacklogBytes ?? 64 * 1024 * 1024),
      retryMs: heartbeatMs,
      unheard: (message, deliveries) => this.handlers?.deliver(message, deliveries, nodeId),
      failed,
    })
    // Control frames go to a node's channel after the forwards queued for it.
    const publish = (to: string, frame: Buffer): Promise<number> => this.forwarding.send(to, frame)
    this.membership = new Membership({ nodeId, keys, leaseMs, heartbeatMs, eventLogLength, logger }, redis, {
      declaredDead: () => this.declaredDead(),
      reaped: (deadNode, clients) => {
        // The local view must not still show them online when the broker adopts them.
        this.forgetNode(deadNode)
        this.handlers?.nodeDown(deadNode, clients)
      },
      failed,
    })
    this.releases = new ReleaseRequests(nodeId, leaseMs, publish, redis.exactReceivers, failed)
    this.ownership = new Ownership({ nodeId, keys, eventLogLength, logger }, redis, this.releases, (clientId) => this.handlers?.release(clientId) ?? Promise.resolve(), failed)
    this.feed = new EventFeed(keys, redis, logger, nodeId, {
      event: (event) => this.apply(event),
      frame: (frame) => this.onFrame(frame),
      snapshot: (snapshot) => this.load(snapshot),
      // Forwards sent here meanwhile reached nobody, so their senders queued them in the store: this node's clients
      // are let go, to resume from the store (on any node) with those messages in order. "Room" signals may have
      // been missed too: the publishers held for other nodes go on.
      resubscribed: () => {
        this.ownership.releaseAll('cluster subscription was lost: releasing this node\'s clients to resume from the store')
        this.backpressure.releaseAll()
      },
      failed,
    })
    this.notices = new QueuedNotices({
      nodeId,
      owners: (clientIds) => redis.command.hmget(keys.owners, ...clientIds),
      notify: (to, clientIds) => publish(to, queuedFrame({ c: clientIds })),
      local: (clientIds) => this.handlers?.queued(clientIds),
      retryMs: heartbeatMs,
      failed,
    })
    this.backpressure = new Backpressure(nodeId, (to, frame) => void publish(to, frame).catch((error: unknown) => this.failed(error, 'backpressure')))
  }

  async start(handlers: ClusterHandlers): Promise<void> {
    if (this.started) throw new Error('cluster bus already started')
    this.started = true
    this.handlers = handlers
    await this.feed.subscribe()
    await this.membership.heartbeat()
    await this.announce({ t: 'join', n: this.nodeId })
    await this.feed.snapshot()
    this.feed.releaseHeld()
    this.feed.watch(() => this.stopping)
    this.membership.start()
  }

  ownerOf(clientId: string): string | undefined {
    return this.ownership.ownerOf(clientId)
  }

  claim(clientId: string): Promise<string | undefined> {
    return this.ownership.claim(clientId)
  }

  disown(clientId: string): void {
    this.ownership.disown(clientId)
  }

  forward(nodeId: string, message: Message, deliveries: RemoteDelivery[], publisher?: Holdable): void {
    this.forwarding.forward(nodeId, message, deliveries, publisher)
    if (publisher) this.backpressure.forwarded(nodeId, deliveries, publisher)
  }

  queued(clientIds: readonly string[]): void {
    this.notices.queued(clientIds)
  }

  senders(nodeId: string, clientId: string): Holdable {
    return this.backpressure.senders(nodeId, clientId)
  }

  announceSubscription(clientId: string, subscription: Subscription): void {
    this.announce({ t: 'sub', n: this.nodeId, c: clientId, s: subscription }).catch((error: unknown) => this.failed(error, 'announce subscription'))
  }

  announceUnsubscription(clientId: string, filter: string): void {
    this.announce({ t: 'unsub', n: this.nodeId, c: clientId, f: filter }).catch((error: unknown) => this.failed(error, 'announce unsubscription'))
  }

  nodes(): string[] {
    return this.membership.nodes()
  }

  clientCounts(): Map<string, number> {
    return this.membership.clientCounts()
  }

  reportClients(count: number): void {
    this.membership.reportClients(count)
  }

  async stop(): Promise<void> {
    if (this.stopping) return
    this.stopping = true
    this.membership.stop()
    this.releases.finishAll()
    this.backpressure.releaseAll()
    // Forwards not sent yet still go out before the connections close; those Redis does not take within a heartbeat
    // (an outage) are handed to the broker like forwards nobody heard, and so queued in the store for persistent
    // sessions while the store answers, and their owners told.
    await this.handBack(await this.forwarding.stop(this.heartbeatMs))
    await this.notices.stop(this.heartbeatMs)
    if (this.redis.command.status === 'ready') await this.membership.leave().catch((error: unknown) => this.failed(error, 'leave'))
    this.ownership.clear()
    await this.redis.close()
  }

  private async handBack(forwards: Forward[]): Promise<void> {
    if (forwards.length === 0) return
    this.logger.warn({ nodeId: this.nodeId, forwards: forwards.length }, 'cluster bus stopping: forwards Redis did not take are queued in the store for persistent sessions')
    const handlers = this.handlers
    const writes: Array<Promise<void>> = []
    for (const { message, deliveries } of forwards) {
      const write = handlers?.deliver(message, deliveries, this.nodeId)
      if (write) writes.push(write)
    }
    if (!(await within(Promise.all(writes), this.heartbeatMs))) this.logger.error({ nodeId: this.nodeId, forwards: forwards.length }, 'cluster bus stopping: the store did not answer for the forwards Redis did not take within a heartbeat; those not stored are lost')
  }

  private announce(event: ClusterEvent): Promise<unknown> {
    return this.redis.script('wrenAnnounce')(this.keys.events, this.keys.broadcast, this.eventLogLength, encodeEvent(event))
  }

  private load({ owners, members, counts }: Snapshot): void {
    this.ownership.load(owners)
    this.membership.load(members, counts)
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
        this.ownership.owned(event.c, event.n)
        break
      case 'left':
        this.ownership.left(event.c, event.n)
        break
      case 'join':
        this.membership.joined(event.n)
        break
      case 'down':
        this.forgetNode(event.n)
        if (event.n === this.nodeId && !this.stopping) this.declaredDead()
        break
    }
  }

  private forgetNode(nodeId: string): void {
    this.membership.forget(nodeId)
    this.ownership.forgetNode(nodeId)
    this.backpressure.forgetNode(nodeId)
    this.seen.forget(nodeId)
  }

  private onFrame(value: Buffer): void {
    const frame = decodeFrame(value)
    switch (frame.kind) {
      case FrameKind.Forwards:
        if (this.seen.repeated(frame.from, frame.epoch, frame.seq)) {
          this.logger.debug({ nodeId: this.nodeId, from: frame.from, seq: frame.seq }, 'cluster frame had already: dropped')
          break
        }
        for (const { message, deliveries } of frame.forwards) void this.handlers?.deliver(message, deliveries, frame.from)
        break
      case FrameKind.Release: {
        const { c: clientId, r: request, n: claimer } = frame.header
        const handlers = this.handlers
        void Promise.resolve()
          .then(() => handlers?.release(clientId))
          .catch((error: unknown) => this.failed(error, 'release'))
          .then(() => this.forwarding.send(claimer, releasedFrame({ r: request })))
          .catch((error: unknown) => this.failed(error, 'answer release'))
        break
      }
      case FrameKind.Released:
        this.releases.answered(frame.header.r)
        break
      case FrameKind.Hold:
        this.backpressure.remote(frame.header.n, frame.header.c, frame.header.h === 1)
        break
      case FrameKind.Queued:
        this.handlers?.queued(frame.header.c)
        break
    }
  }

  /**
   * Another node declared this one dead (its lease ran out: a pause, or Redis unreachable) and adopted its
   * clients, whose wills have been published. Their connections here are stale: they go, and reconnect.
   */
  private declaredDead(): void {
    this.ownership.releaseAll('cluster declared this node dead: releasing its clients')
  }

  private failed(error: unknown, action: string): void {
    if (this.stopping) return
    this.logger.warn({ err: error, nodeId: this.nodeId, action }, 'cluster bus operation failed')
  }
}

export function createRedisCluster(options: RedisClusterOptions = {}): RedisClusterBus {
  return new RedisClusterBus(options)
}
