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

type Done = (error: Error | null, own: OwnCopy | null) => void

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

  /**
   * Routes one accepted message: the retained store, every matching session (live ones get it now,
   * offline persistent ones through the store), in-process listeners, then the `published` event and hook.
   * `done` fires once everything that must be durable before the publisher's ack is stored.
   * A connected session that took the message over its bound holds `holder` (the publisher) back until it has room:
   * the message itself is never dropped for a subscriber that keeps up. A client publisher that also subscribes
   * gets its own copy through `done` instead, to deliver once it is acknowledged.
   */
  route(message: Message, publisher: ClientInfo | null, done: Done, holder?: Holdable): void {
    const core = this.core
    const sessions = this.sessions
    const ownId = publisher !== null && holder !== undefined ? publisher.id : undefined
    let own: OwnCopy | null = null
    const entries = core.router.match(message.topic)
    // The broker's own $SYS updates routinely go to nobody: only application messages count as dropped.
    if (entries.length === 0 && message.topic.charCodeAt(0) !== 36) core.stats.dropped.noSubscribers++
    // Offline persistent sessions: QoS 1/2 goes to their store queues.
    let offlineTargets: OutboundTarget[] | null = null
    let full: Session[] | null = null

    // Live persistent sessions are handed the message only after the store has been asked to enqueue it,
    // so that their 'sent' write can never reach the store before the entry it updates.
    let deferred: Array<[Session, Delivery]> | null = null
    // Deliveries for sessions connected to other cluster nodes, per node: sent on after local routing.
    let remote: Map<string, Delivery[]> | null = null
    const deliver = (delivery: Delivery): void => {
      const session = sessions.live(delivery.clientId)
      if (session) {
        if (session.persistent && delivery.qos > 0) (deferred ??= []).push([session, delivery])
        else if (delivery.clientId === ownId) own = ownCopy(session, delivery)
        else if (!session.deliver(message, delivery.qos, delivery.retain, delivery.subscriptionIdentifiers)) (full ??= []).push(session)
        return
      }
      const owner = core.cluster?.ownerOf(delivery.clientId)
      if (owner !== undefined && owner !== core.id) {
        remote ??= new Map()
        const forNode = remote.get(owner)
        if (forNode) forNode.push(delivery)
        else remote.set(owner, [delivery])
      } else if (delivery.qos > 0) {
        // Offline persistent session: QoS 0 is not queued for offline clients (as Mosquitto's default).
        ;(offlineTargets ??= []).push(delivery)
      }
    }

    if (entries.length === 1) {
      const entry = entries[0] as RouteEntry
      if (entry.listener) callListener(core, entry, message)
      else {
        const delivery = deliveryFor(entry, message)
        if (delivery) deliver(delivery)
      }
    } else if (entries.length > 1) {
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
      for (const delivery of byClient.values()) deliver(delivery)
      if (groups) {
        for (const members of groups.values()) {
          const delivery = deliveryFor(this.shared.pick(members, sessions, message), message)
          if (delivery) deliver(delivery)
        }
      }
    }

    const forwards = remote as Map<string, Delivery[]> | null
    if (forwards && core.cluster) for (const [node, list] of forwards) core.cluster.forward(node, message, list, holder)

    // [MQTT-3.3.1-5] store (or with an empty payload, clear [MQTT-3.3.1-10]) the retained message
    const retained = message.retain && core.options.retainAvailable ? storeRetained(core, message) : null
    const waiting = deferred as Array<[Session, Delivery]> | null
    const queued = this.enqueue(message, offlineTargets, waiting)
    if (waiting) {
      for (const [session, d] of waiting) {
        if (d.clientId === ownId) own = ownCopy(session, d)
        else if (!session.deliver(message, d.qos, d.retain, d.subscriptionIdentifiers)) (full ??= []).push(session)
      }
    }
    const heldBy = full as Session[] | null
    if (heldBy !== null && holder !== undefined) for (const session of heldBy) session.holdPublisher(holder)

    // Every session connected here has the message by now (sent or queued), except a subscribing publisher's own
    // copy, which follows its acknowledgement; the store writes may still be running. Usually nobody listens: the
    // emit's argument arrays are not allocated for nothing.
    if (core.events.listenerCount('published') > 0) core.events.emit('published', message, publisher)
    const publishedHooks = core.hooks.published
    if (publishedHooks.length > 0) {
      runChain(publishedHooks, (hook) => hook(message, publisher), (error) => {
        if (error) core.logger.warn({ err: error, topic: message.topic }, 'published hook failed')
      })
    }

    const copy = own as OwnCopy | null
    if (retained === null && queued === null) {
      done(null, copy)
      return
    }
    Promise.all([retained, queued]).then(
      () => done(null, copy),
      (error: unknown) => done(error instanceof Error ? error : new Error(String(error)), copy),
    )
  }

  /** Delivers the publisher's own copy that `route` handed back, holding the publisher if its own queue is full. */
  deliverOwn(message: Message, own: OwnCopy, holder: Holdable): void {
    if (!own.session.deliver(message, own.qos, own.retain, own.subscriptionIdentifiers)) own.session.holdPublisher(holder)
  }

  /**
   * Cluster: deliveries node `from` routed to sessions connected here. A session that takes one over its bound holds
   * that node's senders back, as a local publisher would be: the message is kept, and the publishers there wait.
   */
  deliverRemote(message: Message, deliveries: RemoteDelivery[], from: string): void {
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
    if (gone) {
      // The client left this node while the message was on its way: queue it if its session outlives it.
      const persistence = core.persistence
      void Promise.all(gone.map(async (d) => ((await persistence.sessionGet(d.clientId))?.expiryInterval ?? 0) > 0))
        .then((keep) => this.enqueue(message, gone.filter((_, i) => keep[i]), null))
        .catch((error: unknown) => reportStoreError(core, error))
    }
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

function callListener(core: BrokerCore, entry: RouteEntry, message: Message): void {
  try {
    ;(entry.listener as (message: Message) => void)(message)
  } catch (error) {
    core.logger.error({ err: error, filter: entry.subscription.filter }, 'in-process subscriber threw')
  }
}
