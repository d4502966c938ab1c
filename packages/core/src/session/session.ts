import type { OutboundEntry } from '../persistence/persistence.js'
import type { Message, ProtocolVersion, QoS, Subscription } from '../types.js'
import { Deque } from './deque.js'
import type { SessionStore } from './session-store.js'
import type { DropCounters } from '../stats.js'

/** What a session needs from the connection it is attached to. */
export interface SessionLink {
  /** Writes a PUBLISH; false when the message could not be written (too large for the client, expired). */
  sendPublish(entry: OutboundEntry, dup: boolean): boolean
  sendPubrel(packetId: number): void
  /** True while the socket's buffer is over its bound: QoS 0 is dropped and QoS 1/2 waits. */
  readonly congested: boolean
  /** How many QoS 1/2 messages may be in flight: min(broker maxInflight, client Receive Maximum). */
  readonly sendQuota: number
  /**
   * Whether a QoS 0 message may still be written: always while not congested; while congested, until the QoS 0
   * hold ends (shedding) or the socket holds twice its bound (publishers that cannot be held, such as the host's).
   */
  readonly takesQos0: boolean
  /** Congested for longer than the QoS 0 hold: held publishers are let go, QoS 0 for this client is dropped. */
  readonly shedding: boolean
  /**
   * The client is itself a held publisher whose reading has stopped: its acknowledgements cannot arrive, so its
   * session must not hold anyone back (two clients publishing to each other would wait for each other for good).
   */
  readonly heldBack: boolean
  /** The session started holding publishers back: the link watches that the client keeps making progress. */
  watchProgress(): void
}

/**
 * A publisher that a full session can hold back: it handles no further PUBLISH until every session holding it
 * has room again. Counted, so that several sessions can hold the same publisher.
 */
export interface Holdable {
  hold(): void
  release(): void
}

/** What a connected subscriber's full queue does: hold its publishers back, or drop as Mosquitto does. */
export type FullQueueAction = 'hold-publishers' | 'drop'

export interface SessionLimits {
  maxQueued: number
  queueFullPolicy: 'drop-new' | 'drop-old'
}

export interface SessionCounters {
  messagesDropped: number
  readonly dropped: Pick<DropCounters, 'queueFull' | 'slowConsumer'>
}

const NEVER = 0xffffffff

/**
 * One client's session: subscriptions, messages in flight by packet id, the queue behind them, and
 * inbound QoS 2 ids. It outlives a connection when `expiryInterval` > 0 (clean session 0 in 3.1.1).
 */
export class Session {
  readonly pending = new Deque<OutboundEntry>()
  link: SessionLink | null = null
  /** Set for persistent sessions: mirrors delivery state to the persistence adapter. */
  store: SessionStore | null = null
  /** Rebuilt from persistence: inbound QoS 2 ids may live only in the store. */
  restoredFromStore = false
  fullQueueAction: FullQueueAction = 'hold-publishers'
  /** Acknowledgements received: the link compares it over time to tell a slow client from a stuck one. */
  progress = 0
  /** Publishers held back until this session has room; created on first need. */
  private holders: Set<Holdable> | null = null
  /** UTF-8 bytes of the filters in `subscriptions`: what `maxSubscriptionBytesPerClient` bounds. */
  private filterBytes = 0
  private lastPacketId = 0
  // Created on first use: an idle client's session carries no empty Map or Set (about 550 bytes).
  private subscriptionsByFilter: Map<string, Subscription> | null = null
  private inflightById: Map<number, OutboundEntry> | null = null
  private incomingIds: Set<number> | null = null
  /** Ids of messages this session finished (acknowledged or removed) while its store queue is being read; null otherwise. */
  private finishedIds: Set<string> | null = null

  constructor(
    readonly clientId: string,
    public protocolVersion: ProtocolVersion,
    public expiryInterval: number,
    private readonly limits: SessionLimits,
    private readonly counters: SessionCounters,
  ) {}

  get subscriptions(): Map<string, Subscription> {
    return (this.subscriptionsByFilter ??= new Map())
  }

  /** The filters subscribed to, in a new array; an idle client's close does not create its Map for this. */
  filters(): string[] {
    return this.subscriptionsByFilter === null ? [] : [...this.subscriptionsByFilter.keys()]
  }

  /** Messages in flight by packet id. */
  get inflight(): Map<number, OutboundEntry> {
    return (this.inflightById ??= new Map())
  }

  /** Inbound QoS 2 packet ids whose PUBREL has not arrived yet. */
  get incoming(): Set<number> {
    return (this.incomingIds ??= new Set())
  }

  get inflightCount(): number {
    return this.inflightById === null ? 0 : this.inflightById.size
  }

  /** Adds or replaces (same filter) a subscription; use this and `unsubscribe` so the filter bytes stay counted. */
  subscribe(subscription: Subscription): void {
    if (!this.subscriptions.has(subscription.filter)) this.filterBytes += Buffer.byteLength(subscription.filter)
    this.subscriptions.set(subscription.filter, subscription)
  }

  /** Removes a subscription; false when there was none with this filter. */
  unsubscribe(filter: string): boolean {
    if (!this.subscriptions.delete(filter)) return false
    this.filterBytes -= Buffer.byteLength(filter)
    return true
  }

  get subscriptionBytes(): number {
    return this.filterBytes
  }

  get persistent(): boolean {
    return this.expiryInterval > 0
  }

  get neverExpires(): boolean {
    return this.expiryInterval >= NEVER
  }

  /** Next free packet id in 1..65535 [MQTT-2.3.1-1]: ids still in flight are skipped. */
  private nextPacketId(): number {
    for (let tries = 0; tries < 65535; tries++) {
      this.lastPacketId = this.lastPacketId >= 65535 ? 1 : this.lastPacketId + 1
      if (!this.inflight.has(this.lastPacketId)) return this.lastPacketId
    }
    throw new Error('no free packet identifier')
  }

  /**
   * Delivers, or queues, one message at the QoS already resolved for this session. False when the message was
   * taken over this session's bound: the caller holds its publisher back (`holdPublisher`) until there is room.
   * A connected client that keeps up never loses a QoS 1/2 message, and QoS 0 only once it is shedding.
   */
  deliver(message: Message, qos: QoS, retain: boolean, subscriptionIdentifiers: number[] | undefined): boolean {
    const link = this.link
    if (qos === 0) {
      if (link && link.takesQos0) {
        link.sendPublish({ message, qos, state: 'sent', retain, subscriptionIdentifiers }, false)
        return !link.congested
      }
      this.counters.messagesDropped++
      this.counters.dropped.slowConsumer++
      return true
    }
    // packetId from the start: set on send, it would otherwise give every entry an out-of-object property store.
    const entry: OutboundEntry = { message, qos, packetId: undefined, state: 'queued', retain, subscriptionIdentifiers }
    if (link && this.pending.length === 0 && !link.congested && this.inflightCount < link.sendQuota) {
      this.send(entry, link)
      return true
    }
    // Counted as the store counts a client's queue: queued and in flight together.
    if (this.pending.length + this.inflightCount >= this.limits.maxQueued) {
      if (this.holdsPublishers) {
        this.pending.push(entry)
        return link?.heldBack === true
      }
      this.counters.messagesDropped++
      this.counters.dropped.queueFull++
      // With everything held already in flight there is nothing old to drop: the new message goes, as in the store.
      if (this.limits.queueFullPolicy === 'drop-new' || this.pending.length === 0) {
        this.forget(entry)
        return true
      }
      const oldest = this.pending.shift()
      if (oldest) this.forget(oldest)
    }
    this.pending.push(entry)
    return true
  }

  /** Whether a live copy of a message for this session may go beyond the store's queue bound (it is held instead). */
  get holdsPublishers(): boolean {
    return this.link !== null && this.fullQueueAction === 'hold-publishers'
  }

  /** Holds `publisher` back until this session has room; a publisher already held by this session is not held twice. */
  holdPublisher(publisher: Holdable): void {
    if (this.hasRoom || this.link?.heldBack === true) return
    const holders = (this.holders ??= new Set())
    if (holders.has(publisher)) return
    holders.add(publisher)
    publisher.hold()
    this.link?.watchProgress()
  }

  get holding(): boolean {
    return this.holders !== null
  }

  /** Room means: below three quarters of the queue bound, and a socket that takes writes (or sheds QoS 0). */
  private get hasRoom(): boolean {
    const link = this.link
    if (link === null) return true
    if (link.congested && !link.shedding) return false
    const max = this.limits.maxQueued
    return this.pending.length + this.inflightCount < max - (max >> 2) || this.pending.length + this.inflightCount === 0
  }

  /** Lets every held publisher go: this session has room, or stopped holding anyone back (gone, stuck, shedding). */
  releasePublishers(): void {
    const holders = this.holders
    if (holders === null) return
    this.holders = null
    for (const publisher of holders) publisher.release()
  }

  private forget(entry: OutboundEntry): void {
    const id = entry.message.id
    if (id === undefined) return
    this.finishedIds?.add(id)
    if (this.store) this.store.push({ kind: 'remove', messageId: id })
  }

  private send(entry: OutboundEntry, link: SessionLink): void {
    const packetId = this.nextPacketId()
    entry.packetId = packetId
    entry.state = 'sent'
    if (!link.sendPublish(entry, false)) {
      this.forget(entry)
      return
    }
    this.inflight.set(packetId, entry)
    if (this.store && entry.message.id) this.store.push({ kind: 'sent', messageId: entry.message.id, packetId })
  }

  /** PUBACK: a QoS 1 delivery is complete. Returns false for an unknown packet id. */
  acknowledge(packetId: number): boolean {
    const entry = this.inflightById?.get(packetId)
    if (!entry || entry.qos !== 1) return false
    this.complete(packetId)
    return true
  }

  /** PUBREC: the client has the QoS 2 message; answer with PUBREL. Returns false for an unknown packet id. */
  received(packetId: number): boolean {
    const entry = this.inflightById?.get(packetId)
    if (!entry || entry.qos !== 2) return false
    if (entry.state !== 'released') {
      entry.state = 'released'
      this.progress++
      this.store?.push({ kind: 'released', packetId })
    }
    this.link?.sendPubrel(packetId)
    return true
  }

  /** PUBCOMP: a QoS 2 delivery is complete. */
  completed(packetId: number): boolean {
    const entry = this.inflightById?.get(packetId)
    if (!entry || entry.state !== 'released') return false
    this.complete(packetId)
    return true
  }

  /** A v5 PUBREC with an error code: the receiver will not take the message, the delivery ends. */
  abandon(packetId: number): void {
    if (this.inflightById?.has(packetId) === true) this.complete(packetId)
  }

  private complete(packetId: number): void {
    if (this.finishedIds !== null) {
      const id = this.inflight.get(packetId)?.message.id
      if (id !== undefined) this.finishedIds.add(id)
    }
    this.inflight.delete(packetId)
    this.progress++
    this.store?.push({ kind: 'ack', packetId })
    this.drain()
  }

  /** Sends queued messages while the link has room, then lets held publishers go once there is room again. */
  drain(): void {
    const link = this.link
    if (!link) return
    while (this.pending.length > 0 && !link.congested && this.inflightCount < link.sendQuota) {
      this.send(this.pending.shift() as OutboundEntry, link)
    }
    if (this.holders !== null && this.hasRoom) this.releasePublishers()
  }

  /** The connection went away: an offline session holds nobody back (its store queue is bounded instead). */
  detach(): void {
    this.link = null
    this.releasePublishers()
  }

  /** On (re)connect: resend what is in flight, in order, with DUP set [MQTT-4.4.0-1], then drain the queue. */
  resume(link: SessionLink): void {
    this.link = link
    const inflight = this.inflightById
    if (inflight !== null) {
      for (const [packetId, entry] of inflight) {
        if (entry.state === 'released') link.sendPubrel(packetId)
        else if (!link.sendPublish(entry, true)) {
          // Expired, denied by authorizeForward or too large for this client now: it must not hold a slot.
          if (entry.message.id !== undefined) this.finishedIds?.add(entry.message.id)
          inflight.delete(packetId)
          this.store?.push({ kind: 'ack', packetId })
        }
      }
    }
    this.drain()
  }

  /** Restores delivery state read from persistence (after a restart, or from another cluster node). */
  restore(entries: OutboundEntry[]): void {
    for (const entry of entries) {
      if (entry.state === 'queued' || entry.packetId === undefined) this.pending.push(entry)
      else {
        this.inflight.set(entry.packetId, entry)
        if (entry.packetId > this.lastPacketId) this.lastPacketId = entry.packetId
      }
    }
  }

  /** Its store queue is about to be read (`adoptQueued`): messages finished from now on are remembered until then. */
  watchFinished(): void {
    this.finishedIds = new Set()
  }

  /**
   * Cluster: another node queued messages in this connected session's store queue, which it read since
   * `watchFinished`. The 'queued' entries it does not have (queued here, in flight, or finished meanwhile) go after
   * what it has, in store order, through the usual outbound path. Returns how many.
   */
  adoptQueued(entries: OutboundEntry[]): number {
    const known = this.finishedIds ?? new Set<string>()
    this.finishedIds = null
    if (this.link === null) return 0
    for (const entry of this.pending) if (entry.message.id !== undefined) known.add(entry.message.id)
    if (this.inflightById !== null) for (const entry of this.inflightById.values()) if (entry.message.id !== undefined) known.add(entry.message.id)
    let adopted = 0
    for (const { message, state, qos, retain, subscriptionIdentifiers } of entries) {
      if (state !== 'queued' || message.id === undefined || known.has(message.id)) continue
      known.add(message.id)
      this.deliver(message, qos, retain === true, subscriptionIdentifiers)
      adopted++
    }
    return adopted
  }

  get queuedCount(): number {
    return this.pending.length + this.inflightCount
  }
}
