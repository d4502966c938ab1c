import type { OutboundEntry } from '../persistence/persistence.js'
import { payloadLength } from '../connection/split-payload.js'

interface Queue {
  messages: number
  bytes: number
}

/**
 * The offline persistent sessions this broker holds (they went offline here, were found in the store at start,
 * or were adopted from a dead cluster node) and what waits in their store queues: kept as sessions and queues
 * change, so that reading the gauges costs the same with ten stored sessions or a million.
 */
export class OfflineTally {
  private readonly queues = new Map<string, Queue>()
  /** Where the cluster sweep goes on from: a bounded number of entries per call, round-robin. */
  private sweepCursor: Iterator<string> | null = null
  messages = 0
  bytes = 0

  get sessions(): number {
    return this.queues.size
  }

  has(clientId: string): boolean {
    return this.queues.has(clientId)
  }

  /** The session went offline here: its store queue holds what was queued or in flight at QoS 1/2. */
  wentOffline(clientId: string, entries: Iterable<OutboundEntry>): void {
    let messages = 0
    let bytes = 0
    for (const entry of entries) {
      if (entry.qos === 0) continue
      messages++
      bytes += payloadLength(entry.message)
    }
    this.set(clientId, { messages, bytes })
  }

  /** A session found in the store (at start, or adopted from a dead node): its queue is counted by `recount`. */
  hold(clientId: string): void {
    this.set(clientId, { messages: 0, bytes: 0 })
  }

  /**
   * Counts a held session's store queue. `read` asks the store now, so what is queued from here on is added on
   * top of its answer and what was queued before is in it (adapters apply calls in the order they are made).
   */
  async recount(clientId: string, read: () => Promise<OutboundEntry[]>): Promise<void> {
    const queue = this.queues.get(clientId)
    if (!queue) return
    this.messages -= queue.messages
    this.bytes -= queue.bytes
    queue.messages = 0
    queue.bytes = 0
    const entries = await read()
    if (this.queues.get(clientId) !== queue) return
    for (const entry of entries) {
      queue.messages++
      queue.bytes += payloadLength(entry.message)
      this.messages++
      this.bytes += payloadLength(entry.message)
    }
  }

  /** The session resumed, expired or was deleted. */
  remove(clientId: string): void {
    const queue = this.queues.get(clientId)
    if (!queue) return
    this.queues.delete(clientId)
    this.messages -= queue.messages
    this.bytes -= queue.bytes
  }

  /** A message was queued in the store for `clientId` (counted when the session is held offline here). */
  queued(clientId: string, size: number): void {
    const queue = this.queues.get(clientId)
    if (!queue) return
    queue.messages++
    queue.bytes += size
    this.messages++
    this.bytes += size
  }

  /**
   * The store's queue of `clientId` was full: it refused the message of `size` (`dropOldest` false), or took it
   * and dropped its oldest queued one, whose size is not known here: the queue's mean size stands for it.
   */
  refused(clientId: string, size: number, dropOldest: boolean): void {
    const queue = this.queues.get(clientId)
    if (!queue || queue.messages === 0) return
    const gone = dropOldest ? Math.round(queue.bytes / queue.messages) : size
    queue.messages--
    queue.bytes -= gone
    this.messages--
    this.bytes -= gone
  }

  /** Cluster: lets go of up to `limit` sessions that are connected somewhere now (they resumed on another node). */
  sweep(isOnline: (clientId: string) => boolean, limit: number): void {
    for (let seen = 0; seen < limit && this.queues.size > 0; seen++) {
      this.sweepCursor ??= this.queues.keys()
      const next = this.sweepCursor.next()
      if (next.done) {
        this.sweepCursor = null
        continue
      }
      if (isOnline(next.value)) this.remove(next.value)
    }
  }

  private set(clientId: string, queue: Queue): void {
    this.remove(clientId)
    this.queues.set(clientId, queue)
    this.messages += queue.messages
    this.bytes += queue.bytes
  }
}
