import type { Message, Subscription } from '../types.js'
import type {
  ClientSubscriptions,
  OutboundEntry,
  OutboundTarget,
  Persistence,
  SessionRecord,
  WillRecord,
} from './persistence.js'
import { RetainedTree } from './retained-tree.js'
import { payloadLength } from '../connection/split-payload.js'

/** One client's queue: a Map keeps insertion order and finds an entry by message id in O(1). */
class OutboundQueue {
  readonly byMessageId = new Map<string, OutboundEntry>()
  readonly byPacketId = new Map<number, string>()
  /** Payload bytes of every entry (what `byteLimit` bounds). */
  bytes = 0

  add(messageId: string, entry: OutboundEntry): void {
    this.byMessageId.set(messageId, entry)
    this.bytes += payloadLength(entry.message)
  }

  delete(messageId: string): void {
    const entry = this.byMessageId.get(messageId)
    if (!entry) return
    this.byMessageId.delete(messageId)
    this.bytes -= payloadLength(entry.message)
    if (entry.packetId !== undefined && this.byPacketId.get(entry.packetId) === messageId) this.byPacketId.delete(entry.packetId)
  }

  /** Removes the oldest entry not yet sent; false when every entry is in flight. */
  dropOldestQueued(): boolean {
    for (const [messageId, entry] of this.byMessageId) {
      if (entry.state !== 'queued') continue
      this.byMessageId.delete(messageId)
      this.bytes -= payloadLength(entry.message)
      return true
    }
    return false
  }

  /** Whether a message of `size` payload bytes fits under both bounds. */
  fits(size: number, limit: number | undefined, byteLimit: number | undefined): boolean {
    return (limit === undefined || this.byMessageId.size < limit) && (byteLimit === undefined || this.bytes + size <= byteLimit)
  }
}

function messageIdOf(message: Message): string {
  if (message.id === undefined) throw new TypeError('outboundEnqueue: message.id is required (the broker assigns it)')
  return message.id
}

/**
 * The embedded default: everything in Maps and trees, gone when the process ends.
 * Messages are held by reference, once, whatever the number of queues they sit in; callers treat them as immutable.
 */
export class MemoryPersistence implements Persistence {
  /** Every call takes effect before it returns. */
  readonly appliesInCallOrder = true
  private readonly retained = new RetainedTree<Message>()
  private retainedPayloadBytes = 0
  private readonly sessions = new Map<string, SessionRecord>()
  private readonly subscriptions = new Map<string, Map<string, Subscription>>()
  private readonly outbound = new Map<string, OutboundQueue>()
  private readonly incoming = new Map<string, Set<number>>()
  private readonly wills = new Map<string, WillRecord>()
  private readonly sessionData = new Map<string, Map<string, string>>()

  async retainedStore(message: Message): Promise<void> {
    this.retainedPayloadBytes -= this.retained.get(message.topic)?.payload.length ?? 0
    if (message.payload.length === 0) this.retained.delete(message.topic)
    else {
      this.retained.set(message.topic, message)
      this.retainedPayloadBytes += message.payload.length
    }
  }

  async retainedMatch(filter: string): Promise<Message[]> {
    const now = Date.now()
    const found: Message[] = []
    const expired: Message[] = []
    this.retained.match(filter, (message) => {
      if (message.expiresAt !== undefined && message.expiresAt < now) expired.push(message)
      else found.push(message)
    })
    for (const message of expired) {
      this.retained.delete(message.topic)
      this.retainedPayloadBytes -= message.payload.length
    }
    return found
  }

  async retainedCount(): Promise<number> {
    return this.retained.size
  }

  async retainedBytes(): Promise<number> {
    return this.retainedPayloadBytes
  }

  async sessionSave(record: SessionRecord): Promise<void> {
    this.sessions.set(record.clientId, { ...record })
  }

  async sessionGet(clientId: string): Promise<SessionRecord | undefined> {
    const record = this.sessions.get(clientId)
    return record && { ...record }
  }

  /** Whether `sessionGet` would find a record, without a promise: the connect of a clean session asks it. */
  holdsSession(clientId: string): boolean {
    return this.sessions.has(clientId)
  }

  async sessionDelete(clientId: string): Promise<void> {
    this.sessions.delete(clientId)
    this.subscriptions.delete(clientId)
    this.outbound.delete(clientId)
    this.incoming.delete(clientId)
    this.wills.delete(clientId)
    this.sessionData.delete(clientId)
  }

  async sessionList(): Promise<SessionRecord[]> {
    return Array.from(this.sessions.values(), (record) => ({ ...record }))
  }

  async sessionDataSet(clientId: string, key: string, value: string): Promise<void> {
    let data = this.sessionData.get(clientId)
    if (data === undefined) this.sessionData.set(clientId, (data = new Map()))
    data.set(key, value)
  }

  async sessionDataGet(clientId: string, key: string): Promise<string | undefined> {
    return this.sessionData.get(clientId)?.get(key)
  }

  async sessionCount(): Promise<number> {
    return this.sessions.size
  }

  async subscriptionsAdd(clientId: string, subscriptions: Subscription[]): Promise<void> {
    let stored = this.subscriptions.get(clientId)
    if (!stored) {
      stored = new Map()
      this.subscriptions.set(clientId, stored)
    }
    for (const subscription of subscriptions) stored.set(subscription.filter, { ...subscription })
  }

  async subscriptionsRemove(clientId: string, filters: string[]): Promise<void> {
    const stored = this.subscriptions.get(clientId)
    if (!stored) return
    for (const filter of filters) stored.delete(filter)
    if (stored.size === 0) this.subscriptions.delete(clientId)
  }

  async subscriptionsGet(clientId: string): Promise<Subscription[]> {
    const stored = this.subscriptions.get(clientId)
    return stored ? Array.from(stored.values(), (subscription) => ({ ...subscription })) : []
  }

  async subscriptionsAll(): Promise<ClientSubscriptions[]> {
    return Array.from(this.subscriptions, ([clientId, stored]) => ({
      clientId,
      subscriptions: Array.from(stored.values(), (subscription) => ({ ...subscription })),
    }))
  }

  async outboundEnqueue(
    targets: OutboundTarget[],
    message: Message,
    limit?: number,
    dropOldest = false,
    byteLimit?: number,
  ): Promise<string[]> {
    const messageId = messageIdOf(message)
    const size = payloadLength(message)
    const lost: string[] = []
    for (const target of targets) {
      let queue = this.outbound.get(target.clientId)
      if (queue?.byMessageId.has(messageId)) continue
      if (byteLimit !== undefined && size > byteLimit) {
        lost.push(target.clientId)
        continue
      }
      if (!queue) {
        queue = new OutboundQueue()
        this.outbound.set(target.clientId, queue)
      }
      let room = queue.fits(size, limit, byteLimit)
      while (!room) {
        lost.push(target.clientId)
        if (!dropOldest || !queue.dropOldestQueued()) break
        room = queue.fits(size, limit, byteLimit)
      }
      if (!room) {
        if (queue.byMessageId.size === 0) this.outbound.delete(target.clientId)
        continue
      }
      const entry: OutboundEntry = { message, qos: target.qos, state: 'queued' }
      if (target.subscriptionIdentifiers !== undefined) entry.subscriptionIdentifiers = [...target.subscriptionIdentifiers]
      if (target.retain !== undefined) entry.retain = target.retain
      queue.add(messageId, entry)
    }
    return lost
  }

  async outboundSent(clientId: string, messageId: string, packetId: number): Promise<void> {
    const queue = this.outbound.get(clientId)
    const entry = queue?.byMessageId.get(messageId)
    if (!queue || !entry) return
    if (entry.packetId !== undefined && queue.byPacketId.get(entry.packetId) === messageId) queue.byPacketId.delete(entry.packetId)
    entry.packetId = packetId
    entry.state = 'sent'
    queue.byPacketId.set(packetId, messageId)
  }

  async outboundReleased(clientId: string, packetId: number): Promise<void> {
    const queue = this.outbound.get(clientId)
    const messageId = queue?.byPacketId.get(packetId)
    if (messageId === undefined) return
    const entry = queue?.byMessageId.get(messageId)
    if (entry) entry.state = 'released'
  }

  async outboundAck(clientId: string, packetId: number): Promise<void> {
    const queue = this.outbound.get(clientId)
    const messageId = queue?.byPacketId.get(packetId)
    if (messageId !== undefined) this.dequeue(clientId, messageId)
  }

  async outboundRemove(clientId: string, messageId: string): Promise<void> {
    this.dequeue(clientId, messageId)
  }

  private dequeue(clientId: string, messageId: string): void {
    const queue = this.outbound.get(clientId)
    if (!queue) return
    queue.delete(messageId)
    if (queue.byMessageId.size === 0) this.outbound.delete(clientId)
  }

  async outboundList(clientId: string): Promise<OutboundEntry[]> {
    const queue = this.outbound.get(clientId)
    return queue ? Array.from(queue.byMessageId.values(), (entry) => ({ ...entry })) : []
  }

  async outboundCount(clientId: string): Promise<number> {
    return this.outbound.get(clientId)?.byMessageId.size ?? 0
  }

  async incomingAdd(clientId: string, packetId: number): Promise<void> {
    let ids = this.incoming.get(clientId)
    if (!ids) {
      ids = new Set()
      this.incoming.set(clientId, ids)
    }
    ids.add(packetId)
  }

  async incomingHas(clientId: string, packetId: number): Promise<boolean> {
    return this.incoming.get(clientId)?.has(packetId) ?? false
  }

  async incomingRemove(clientId: string, packetId: number): Promise<void> {
    const ids = this.incoming.get(clientId)
    if (!ids) return
    ids.delete(packetId)
    if (ids.size === 0) this.incoming.delete(clientId)
  }

  async willPut(record: WillRecord): Promise<void> {
    this.wills.set(record.clientId, { ...record })
  }

  async willGet(clientId: string): Promise<WillRecord | undefined> {
    const record = this.wills.get(clientId)
    return record && { ...record }
  }

  async willDelete(clientId: string): Promise<void> {
    this.wills.delete(clientId)
  }

  async willList(): Promise<WillRecord[]> {
    return Array.from(this.wills.values(), (record) => ({ ...record }))
  }

  async close(): Promise<void> {}
}

export function createMemoryPersistence(): MemoryPersistence {
  return new MemoryPersistence()
}
