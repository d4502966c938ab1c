import type { Logger } from '@wren/core'
import type { BusConnections } from './connections.js'
import { type ClusterEvent, compareStreamIds, parseEvent, parsePublished } from './events.js'
import type { ClusterKeys } from './keys.js'

/** The cluster's state as of one event stream id, read atomically. */
export interface Snapshot {
  owners: Record<string, string>
  members: string[]
  counts: Record<string, string>
}

/** Where the feed hands what it receives, in the order Redis applied it. */
export interface FeedSink {
  event(event: ClusterEvent): void
  frame(frame: Buffer): void
  snapshot(snapshot: Snapshot): void
  /** The subscription was lost and is back: forwards sent here meanwhile reached nobody. */
  resubscribed(): void
  failed(error: unknown, action: string): void
}

/**
 * What a node receives on pub/sub: broadcast events, applied once each in stream id order, and frames on its own
 * channel. Held back while the node starts and while it catches up after a lost subscription, when it replays the
 * event stream from the last id it applied (or reloads a snapshot when the stream was trimmed past it).
 */
export class EventFeed {
  /** Stream id of the last broadcast event applied: older ones (replayed or re-published) are skipped. */
  private lastEventId = '0-0'
  /** While not null, pub/sub messages wait here: during start and while catching up after a lost subscription. */
  private held: Array<[string, Buffer]> | null = []

  constructor(
    private readonly keys: ClusterKeys,
    private readonly redis: BusConnections,
    private readonly logger: Logger,
    private readonly nodeId: string,
    private readonly sink: FeedSink,
  ) {}

  /** Subscribes, and listens from now on; what arrives waits until `releaseHeld`. */
  async subscribe(): Promise<void> {
    const subscriber = this.redis.subscriber
    subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => this.received(channel.toString(), message))
    // A SUBSCRIBE that reaches Redis during ioredis' ready check (INFO) fails the check and forces a reconnect,
    // whose 'ready' would then be taken for a lost subscription and release every client.
    if (subscriber.status !== 'ready') await new Promise((resolve) => subscriber.once('ready', resolve))
    await subscriber.subscribe(this.keys.broadcast, this.keys.channel(this.nodeId))
  }

  /** Catches up whenever the subscriber connection comes back (`stopping` says when not to). */
  watch(stopping: () => boolean): void {
    this.redis.subscriber.on('ready', () => {
      if (!stopping()) void this.catchUp()
    })
  }

  /** The owners, members and counts as of one stream id, read atomically. */
  async snapshot(): Promise<void> {
    const k = this.keys
    const replies = (await this.redis.command.multi().hgetall(k.owners).xrevrange(k.events, '+', '-', 'COUNT', 1).smembers(k.nodes).hgetall(k.counts).exec()) ?? []
    const [owners, newest, members, counts] = replies.map(([error, reply]) => {
      if (error) throw error
      return reply
    }) as [Record<string, string>, Array<[string, string[]]>, string[], Record<string, string>]
    this.lastEventId = newest[0]?.[0] ?? '0-0'
    this.sink.snapshot({ owners, members, counts })
  }

  /** Lets held pub/sub messages through, in the order they arrived. */
  releaseHeld(): void {
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
        this.sink.frame(message)
      }
    } catch (error) {
      this.sink.failed(error, 'handle cluster message')
    }
  }

  private applyLogged(id: string, event: ClusterEvent): void {
    if (compareStreamIds(id, this.lastEventId) <= 0) return
    this.lastEventId = id
    this.sink.event(event)
  }

  /**
   * The subscriber connection came back: whatever was broadcast meanwhile is replayed from the event stream, and the
   * sink learns that forwards sent here meanwhile reached nobody.
   */
  private async catchUp(): Promise<void> {
    if (this.held) return
    this.held = []
    try {
      await this.redis.subscriber.subscribe(this.keys.broadcast, this.keys.channel(this.nodeId))
      this.sink.resubscribed()
      const entries = (await this.redis.command.xrange(this.keys.events, this.lastEventId, '+')) as Array<[string, string[]]>
      if (entries[0]?.[0] !== this.lastEventId) {
        this.logger.error({ nodeId: this.nodeId }, 'cluster events were trimmed before this node caught up: ownership reloaded, subscriptions made meanwhile on other nodes are missing here')
        await this.snapshot()
      } else {
        for (const [id, fields] of entries) this.applyLogged(id, parseEvent(fields[1] ?? '{}'))
      }
    } catch (error) {
      this.sink.failed(error, 'catch up')
    } finally {
      this.releaseHeld()
    }
  }
}
