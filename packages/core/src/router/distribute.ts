import type { RemoteDelivery } from '../cluster/cluster-bus.js'
import { payloadLength } from '../connection/split-payload.js'
import { type BrokerCore, reportStoreError } from '../core.js'
import type { ClientInfo } from '../hooks/hook-types.js'
import { runChain } from '../hooks/hook-runner.js'
import type { OutboundTarget } from '../persistence/persistence.js'
import { storeRetained } from '../persistence/retained-limit.js'
import type { OfflineTally } from '../session/offline-tally.js'
import type { Holdable, Session } from '../session/session.js'
import type { SharedSubscriptionStrategy } from '../options.js'
import type { Message, QoS } from '../types.js'
import type { RouteEntry } from './router.js'

/** One delivery after overlapping subscriptions of the same client are folded into one [MQTT-3.3.5-1]. */
interface Delivery {
  clientId: string
  qos: QoS
  retain: boolean
  subscriptionIdentifiers: number[] | undefined
}

export interface SessionLookup {
  /** The in-memory session of a connected client (or one being taken over), if any. */
  live(clientId: string): Session | undefined
  /** Connected here or, in a cluster, to another node. */
  isOnline(clientId: string): boolean
  /** Offline sessions held here: routing counts what it queues for them. */
  readonly offline: OfflineTally
  /** Clients whose CONNECT is opening their session here. */
  readonly opening: ReadonlySet<string>
  /**
   * Messages were queued in the store for these clients while they were not connected here as far as routing could
   * tell: those connected by now (here, or in a cluster anywhere) get what their resumption did not read.
   */
  queuedAway(clientIds: readonly string[]): void
}

/**
 * The publisher's own copy of its message (it subscribes to the topic it published on): the caller delivers it
 * with `deliverOwn` after acknowledging the PUBLISH, as peers do, so the ack never trails the echo.
 */
export interface OwnCopy {
  readonly session: Session
  readonly qos: QoS
  readonly retain: boolean
  readonly subscriptionIdentifiers: number[] | undefined
}

function deliveryFor(entry: RouteEntry, message: Message): Delivery | null {
  const sub = entry.subscription
  // [MQTT-3.8.3-3] No Local: not back to the publisher
  if (sub.noLocal && message.origin === entry.clientId) return null
  const qos = (message.qos < sub.qos ? message.qos : sub.qos) as QoS
  const id = sub.subscriptionIdentifier
  return {
    clientId: entry.clientId,
    qos,
    // [MQTT-3.3.1-9] forwarded messages have retain=0 unless Retain As Published
    retain: sub.retainAsPublished === true ? message.retain : false,
    subscriptionIdentifiers: id === undefined ? undefined : [id],
  }
}

function merge(into: Delivery, next: Delivery): void {
  if (next.qos > into.qos) into.qos = next.qos
  if (next.retain) into.retain = true
  if (next.subscriptionIdentifiers) {
    into.subscriptionIdentifiers = into.subscriptionIdentifiers
      ? into.subscriptionIdentifiers.concat(next.subscriptionIdentifiers)
      : next.subscriptionIdentifiers
  }
}

/** Where one message's deliveries go, gathered while routing it on the general path (several entries, or not live). */
class Fanout {
  /** The publisher's own copy, delivered after its ack. */
  own: OwnCopy | null = null
  /** Sessions that took the message over their bound: they hold the publisher. */
  full: Session[] | null = null
  /** Live persistent sessions at QoS 1/2: handed the message once the store has been asked to enqueue it. */
  deferred: Array<[Session, Delivery]> | null = null
  /** Offline persistent sessions: QoS 1/2 goes to their store queues. */
  offline: OutboundTarget[] | null = null
  /** Deliveries for sessions connected to other cluster nodes, per node: sent on after local routing. */
  remote: Map<string, Delivery[]> | null = null

  constructor(private readonly ownId: string | undefined) {}

  add(delivery: Delivery, sessions: SessionLookup, core: BrokerCore, message: Message): void {
    const session = sessions.live(delivery.clientId)
    if (session) {
      if (session.persistent && delivery.qos > 0) (this.deferred ??= []).push([session, delivery])
      else if (delivery.clientId === this.ownId) this.own = ownCopy(session, delivery)
      else if (!session.deliver(message, delivery.qos, delivery.retain, delivery.subscriptionIdentifiers)) (this.full ??= []).push(session)
      return
    }
    const owner = core.cluster?.ownerOf(delivery.clientId)
    if (owner !== undefined && owner !== core.id) {
      this.remote ??= new Map()
      const forNode = this.remote.get(owner)
      if (forNode) forNode.push(delivery)
      else this.remote.set(owner, [delivery])
    } else if (delivery.qos > 0) {
      // Offline persistent session: QoS 0 is not queued for offline clients (as Mosquitto's default).
      ;(this.offline ??= []).push(delivery)
    }
  }
}

/**
 * Picks one member of a shared group per message. Default: round-robin, preferring members that are
 * connected (an offline persistent member gets it queued only when nobody in the group is online).
 */
export class SharedGroups {
  private readonly cursors = new Map<string, number>()

  constructor(private readonly strategy: SharedSubscriptionStrategy | undefined) {}

  pick(members: RouteEntry[], sessions: SessionLookup, message: Message): RouteEntry {
    if (this.strategy) {
      const view = members.map((m) => ({ clientId: m.clientId, online: sessions.isOnline(m.clientId) }))
      const index = this.strategy(members[0]?.group ?? '', view, message)
      return members[Number.isInteger(index) && index >= 0 && index < members.length ? index : 0] as RouteEntry
    }
    const key = members[0]?.groupKey ?? ''
    const start = this.cursors.get(key) ?? 0
    this.cursors.set(key, start + 1)
    for (let i = 0; i < members.length; i++) {
      const member = members[(start + i) % members.length] as RouteEntry
      if (sessions.isOnline(member.clientId)) return member
    }
    return members[start % members.length] as RouteEntry
  }
}

/**
 * Where an accepted message goes: `route` for a message published here (by a client, the host, a will or $SYS),
 * `deliverRemote` for deliveries another cluster node routed to sessions connected here.
 */
export class Distributor {
  constructor(
    private readonly core: BrokerCore,
    private readonly sessions: SessionLookup,
    private readonly shared: SharedGroups,
  ) {}

  /** The publisher's own copy the last `route` found (see `takeOwnCopy`). */
  private own: OwnCopy | null = null

  /**
   * Routes one accepted message: the retained store, every matching session (live ones get it now,
   * offline persistent ones through the store), in-process listeners, then the `published` event and hook.
   * Returns what must be durable before the publisher's ack, or null when nothing is being stored: on the common
   * path (memory store, subscribers online) routing is synchronous and allocates no closure or promise.
   * A connected session that took the message over its bound holds `holder` (the publisher) back until it has room:
   * the message itself is never dropped for a subscriber that keeps up. A client publisher that also subscribes
   * gets its own copy through `takeOwnCopy` instead, to deliver once it is acknowledged.
   */
  route(message: Message, publisher: ClientInfo | null, holder?: Holdable): Promise<unknown> | null {
    const core = this.core
    const ownId = publisher !== null && holder !== undefined ? publisher.id : undefined
    const entries = core.router.match(message.topic)
    // The broker's own $SYS updates routinely go to nobody: only application messages count as dropped.
    if (entries.length === 0 && message.topic.charCodeAt(0) !== 36) core.stats.dropped.noSubscribers++
    let fanout: Fanout | null = null
    if (entries.length === 1) {
      const entry = entries[0] as RouteEntry
      if (entry.listener) callListener(core, entry, message)
      else if (!this.deliverOne(entry, message, ownId, holder)) {
        const delivery = deliveryFor(entry, message)
        if (delivery) (fanout = new Fanout(ownId)).add(delivery, this.sessions, core, message)
      }
    } else if (entries.length > 1) fanout = this.fanOut(entries, message, ownId)

    let own: OwnCopy | null = null
    let queued: Promise<unknown> | null = null
    if (fanout !== null) {
      const forwards = fanout.remote
      if (forwards && core.cluster) for (const [node, list] of forwards) core.cluster.forward(node, message, list, holder)
    }
    // [MQTT-3.3.1-5] store (or with an empty payload, clear [MQTT-3.3.1-10]) the retained message
    const retained = message.retain && core.options.retainAvailable ? storeRetained(core, message) : null
    if (fanout !== null) {
      // Live persistent sessions are handed the message only after the store has been asked to enqueue it,
      // so that their 'sent' write can never reach the store before the entry it updates.
      const waiting = fanout.deferred
      const away = fanout.offline === null ? null : this.toTell(fanout.offline)
      queued = this.enqueue(message, fanout.offline, waiting)
      if (away !== null && queued !== null) queued = queued.then(() => this.sessions.queuedAway(away))
      if (waiting) {
        for (const [session, d] of waiting) {
          if (d.clientId === ownId) fanout.own = ownCopy(session, d)
          else if (!session.deliver(message, d.qos, d.retain, d.subscriptionIdentifiers)) (fanout.full ??= []).push(session)
        }
      }
      if (fanout.full !== null && holder !== undefined) for (const session of fanout.full) session.holdPublisher(holder)
      own = fanout.own
    }

    // Every session connected here has the message by now (sent or queued), except a subscribing publisher's own
    // copy, which follows its acknowledgement; the store writes may still be running. Usually nobody listens: the
    // emit's argument arrays are not allocated for nothing.
    if (core.events.listenerCount('published') > 0) core.events.emit('published', message, publisher)
    if (core.hooks.published.length > 0) runPublishedHooks(core, message, publisher)
    // Set last: an in-process listener or hook above may route a message of its own.
    this.own = own
    if (retained === null) return queued
    return queued === null ? retained : Promise.all([retained, queued])
  }

  /** The own copy the `route` just returned from left for its publisher (null if none); read once, at once. */
  takeOwnCopy(): OwnCopy | null {
    const own = this.own
    this.own = null
    return own
  }

  /**
   * The common single subscriber: a session connected here that takes the message now (not persistent at QoS 1/2,
   * not the publisher itself), delivered without a routing state or delivery object. False: the general path.
   */
  private deliverOne(entry: RouteEntry, message: Message, ownId: string | undefined, holder: Holdable | undefined): boolean {
    const sub = entry.subscription
    if (entry.groupKey !== undefined || entry.clientId === ownId) return false
    // [MQTT-3.8.3-3] No Local: not back to the publisher
    if (sub.noLocal && message.origin === entry.clientId) return true
    const qos = (message.qos < sub.qos ? message.qos : sub.qos) as QoS
    const session = this.sessions.live(entry.clientId)
    if (session === undefined || (session.persistent && qos > 0)) return false
    const id = sub.subscriptionIdentifier
    // [MQTT-3.3.1-9] forwarded messages have retain=0 unless Retain As Published
    if (!session.deliver(message, qos, sub.retainAsPublished === true ? message.retain : false, id === undefined ? undefined : [id]) && holder !== undefined) {
      session.holdPublisher(holder)
    }
    return true
  }

  /** Several matching entries: one delivery per client [MQTT-3.3.5-1], and one member per shared group. */
  private fanOut(entries: readonly RouteEntry[], message: Message, ownId: string | undefined): Fanout {
    const core = this.core
    const sessions = this.sessions
    const fanout = new Fanout(ownId)
    const byClient = new Map<string, Delivery>()
    let groups: Map<string, RouteEntry[]> | null = null
    for (const entry of entries) {
      if (entry.listener) {
        callListener(core, entry, message)
        continue
      }
      if (entry.groupKey !== undefined) {
        groups ??= new Map()
        const members = groups.get(entry.groupKey)
        if (members) members.push(entry)
        else groups.set(entry.groupKey, [entry])
        continue
      }
      const delivery = deliveryFor(entry, message)
      if (!delivery) continue
      const existing = byClient.get(entry.clientId)
      if (existing) merge(existing, delivery)
      else byClient.set(entry.clientId, delivery)
    }
    for (const delivery of byClient.values()) fanout.add(delivery, sessions, core, message)
    if (groups) {
      for (const members of groups.values()) {
        const delivery = deliveryFor(this.shared.pick(members, sessions, message), message)
        if (delivery) fanout.add(delivery, sessions, core, message)
      }
    }
    return fanout
  }

  /**
   * Of the offline sessions a message is queued for, those that may be connected by the time the write lands, and
   * read their store queue before it: one whose CONNECT is opening it here, or in a cluster any (this node's view of
   * the owners lags a claim by a pub/sub hop). Null, without allocating, when none.
   */
  private toTell(targets: readonly OutboundTarget[]): string[] | null {
    if (this.core.cluster !== undefined) return targets.map((t) => t.clientId)
    const opening = this.sessions.opening
    if (opening.size === 0) return null
    let ids: string[] | null = null
    for (const { clientId } of targets) if (opening.has(clientId)) (ids ??= []).push(clientId)
    return ids
  }

  /** Delivers the publisher's own copy that `route` handed back, holding the publisher if its own queue is full. */
  deliverOwn(message: Message, own: OwnCopy, holder: Holdable): void {
    if (!own.session.deliver(message, own.qos, own.retain, own.subscriptionIdentifiers)) own.session.holdPublisher(holder)
  }

  /**
   * Cluster: deliveries node `from` routed to sessions connected here. A session that takes one over its bound holds
   * that node's senders back, as a local publisher would be: the message is kept, and the publishers there wait.
   */
  deliverRemote(message: Message, deliveries: RemoteDelivery[], from: string): Promise<void> | null {
    const core = this.core
    let durable: Array<[Session, RemoteDelivery]> | null = null
    let absent: RemoteDelivery[] | null = null
    for (const delivery of deliveries) {
      const session = this.sessions.live(delivery.clientId)
      if (!session) {
        if (delivery.qos > 0) (absent ??= []).push(delivery)
      } else if (session.persistent && delivery.qos > 0) {
        ;(durable ??= []).push([session, delivery])
      } else if (!session.deliver(message, delivery.qos, delivery.retain, delivery.subscriptionIdentifiers)) {
        this.holdSenders(session, from)
      }
    }
    const live = durable as Array<[Session, RemoteDelivery]> | null
    if (live) {
      // As for local deliveries: the enqueue is issued before the sessions' own writes.
      this.enqueue(message, null, live)?.catch((error: unknown) => reportStoreError(core, error))
      for (const [session, d] of live) {
        if (!session.deliver(message, d.qos, d.retain, d.subscriptionIdentifiers)) this.holdSenders(session, from)
      }
    }
    const gone = absent as RemoteDelivery[] | null
    return gone === null ? null : this.queueForAbsent(message, gone)
  }

  /**
   * Deliveries for clients not connected here (they left while the message was on its way, or nobody heard this
   * node's forward): queued for those whose session outlives them, and the node that may hold them by now is told,
   * as it would not read the store. Settles once done; a store failure is reported, not thrown.
   */
  private queueForAbsent(message: Message, gone: RemoteDelivery[]): Promise<void> {
    const core = this.core
    const persistence = core.persistence
    return Promise.all(gone.map(async (d) => ((await persistence.sessionGet(d.clientId))?.expiryInterval ?? 0) > 0))
      .then(async (keep) => {
        const kept = gone.filter((_, i) => keep[i])
        await this.enqueue(message, kept, null)
        if (kept.length > 0) this.sessions.queuedAway(kept.map((d) => d.clientId))
      })
      .catch((error: unknown) => reportStoreError(core, error))
  }

  private holdSenders(session: Session, from: string): void {
    const cluster = this.core.cluster
    if (cluster) session.holdPublisher(cluster.senders(from, session.clientId))
  }

  /**
   * Asks the store to queue `message` for persistent sessions: offline ones within the queue bound (count and
   * bytes), connected ones that drop within the count bound (their in-memory queue counts entries only, so the
   * store must not refuse what it keeps), connected ones that hold publishers without it (holding their
   * publishers is their bound). Resolves once stored; null when there was nothing to store.
   */
  private enqueue(message: Message, offline: OutboundTarget[] | null, live: ReadonlyArray<readonly [Session, OutboundTarget]> | null): Promise<unknown> | null {
    let dropping: OutboundTarget[] | null = null
    let held: OutboundTarget[] | null = null
    if (live) {
      for (const [session, target] of live) {
        if (session.holdsPublishers) (held ??= []).push(target)
        else (dropping ??= []).push(target)
      }
    }
    const away = offline !== null && offline.length > 0 ? offline : null
    if (away === null && dropping === null && held === null) return null
    const core = this.core
    message.id ??= core.nextMessageId()
    const { persistence, options } = core
    const tally = this.sessions.offline
    const size = payloadLength(message)
    if (away !== null) for (const target of away) tally.queued(target.clientId, size)
    const byteLimit = options.maxQueuedBytes === 0 ? undefined : options.maxQueuedBytes
    const writes: Array<Promise<unknown>> = []
    if (away !== null && dropping !== null && byteLimit === undefined) away.push(...dropping)
    else if (dropping !== null) writes.push(this.bounded(dropping, message, size, undefined))
    if (away !== null) writes.push(this.bounded(away, message, size, byteLimit))
    if (held !== null) writes.push(persistence.outboundEnqueue(held, message))
    return writes.length === 1 ? (writes[0] as Promise<unknown>) : Promise.all(writes)
  }

  /** Queues within `maxQueued` (and `byteLimit`), counting what the store refused or dropped. */
  private bounded(targets: OutboundTarget[], message: Message, size: number, byteLimit: number | undefined): Promise<void> {
    const { persistence, options, stats } = this.core
    const tally = this.sessions.offline
    const dropOld = options.queueFullPolicy === 'drop-old'
    return persistence.outboundEnqueue(targets, message, options.maxQueued, dropOld, byteLimit).then((lost) => {
      if (lost.length === 0) return
      stats.messagesDropped += lost.length
      stats.dropped.queueFull += lost.length
      for (const clientId of lost) tally.refused(clientId, size, dropOld)
    })
  }
}

function ownCopy(session: Session, delivery: Delivery): OwnCopy {
  return { session, qos: delivery.qos, retain: delivery.retain, subscriptionIdentifiers: delivery.subscriptionIdentifiers }
}

/** Kept out of `route`: its closures would give every routing call a scope to allocate. */
function runPublishedHooks(core: BrokerCore, message: Message, publisher: ClientInfo | null): void {
  runChain(core.hooks.published, (hook) => hook(message, publisher), (error) => {
    if (error) core.logger.warn({ err: error, topic: message.topic }, 'published hook failed')
  })
}

function callListener(core: BrokerCore, entry: RouteEntry, message: Message): void {
  try {
    ;(entry.listener as (message: Message) => void)(message)
  } catch (error) {
    core.logger.error({ err: error, filter: entry.subscription.filter }, 'in-process subscriber threw')
  }
}
