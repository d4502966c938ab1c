import type { Connection } from '../connection/connection.js'
import type { BrokerContext } from '../context.js'
import { type AdminErrorCode, ErrorCode } from '../errors.js'
import { ReasonCode } from '../errors.js'
import { isSharedFilter, topicFilterProblem, topicNameProblem } from '../topic/topic-rules.js'
import type { Message, ProtocolVersion, Subscription } from '../types.js'
import { ComponentRegistry, type ComponentStats } from './component-stats.js'

/** One connected client as an operator sees it. */
export interface ClientDetails {
  id: string
  username: string | undefined
  /** `host:port` of the peer, when the host told the broker (ConnectionMeta). */
  address: string | undefined
  transport: string
  protocolVersion: ProtocolVersion
  /** Epoch milliseconds of CONNACK. */
  connectedAt: number
  /** Seconds, as agreed in CONNECT/CONNACK (0: none). */
  keepalive: number
  /** Seconds the session outlives the connection (0: it ends with it). */
  sessionExpiryInterval: number
  subscriptions: Subscription[]
  /** QoS 1/2 messages sent and not yet acknowledged. */
  inflight: number
  /** QoS 1/2 messages waiting behind those in flight. */
  queued: number
  bytesIn: number
  bytesOut: number
  packetsIn: number
  packetsOut: number
  messagesIn: number
  messagesOut: number
}

/** One session: connected here, connected to another cluster node, or offline (kept for a persistent client). */
export interface SessionSummary {
  clientId: string
  state: 'online' | 'offline'
  /** Broker (cluster node) id that holds or last held the connection. */
  node: string | undefined
  protocolVersion: ProtocolVersion
  expiryInterval: number
  /** Epoch ms the client went offline; undefined while online. */
  disconnectedAt: number | undefined
}

export interface SessionDetails extends SessionSummary {
  subscriptions: Subscription[]
  /** Messages held for the client: in memory while it is connected here, otherwise in the store. */
  queued: number
}

export interface SubscriptionEntry {
  clientId: string
  /** The filter as subscribed, `$share/<group>/` prefix included. */
  filter: string
  qos: Subscription['qos']
  shared: boolean
  noLocal: boolean
  retainAsPublished: boolean
  subscriptionIdentifier: number | undefined
}

export interface SubscriptionQuery {
  clientId?: string
  /** Exactly this filter (as subscribed). */
  filter?: string
  /** Only subscriptions whose filter matches this topic name. */
  topic?: string
}

/** Levels the broker reports as gauges; read on demand (a scrape, an API call), never maintained per message. */
export interface BrokerGauges {
  clientsConnected: number
  sessionsOnline: number
  sessionsOffline: number
  subscriptions: number
  sharedSubscriptions: number
  retainedMessages: number
  queuedMessages: number
  inflightMessages: number
  /** QoS 1/2 messages waiting in the store for the offline sessions counted in `sessionsOffline`. */
  offlineQueuedMessages: number
  /** Payload bytes of those messages. */
  offlineQueuedBytes: number
}

/** Cluster: offline sessions checked per gauge reading for having resumed on another node (bounded work per scrape). */
const OFFLINE_SWEEP = 1000

/** What an operator may refuse, with a code an HTTP layer can map. */
export class AdminError extends Error {
  override name = 'AdminError'
  constructor(
    readonly code: AdminErrorCode,
    message: string,
  ) {
    super(message)
  }
}

function address(connection: Connection): string | undefined {
  const { remoteAddress, remotePort } = connection.client.meta
  if (remoteAddress === undefined) return undefined
  const host = remoteAddress.includes(':') ? `[${remoteAddress}]` : remoteAddress
  return remotePort === undefined ? remoteAddress : `${host}:${remotePort}`
}

function entryOf(clientId: string, subscription: Subscription): SubscriptionEntry {
  return {
    clientId,
    filter: subscription.filter,
    qos: subscription.qos,
    shared: isSharedFilter(subscription.filter),
    noLocal: subscription.noLocal === true,
    retainAsPublished: subscription.retainAsPublished === true,
    subscriptionIdentifier: subscription.subscriptionIdentifier,
  }
}

/**
 * Operations for dashboards and admin APIs: list and kick clients, list and delete sessions (offline ones
 * from the store), browse subscriptions and retained messages. Nothing here runs on the message path.
 */
export class BrokerAdmin {
  private readonly registry = new ComponentRegistry()

  constructor(private readonly ctx: BrokerContext) {}

  /**
   * A bridge or gateway of this broker reports here while it runs, for metrics and the admin API; the returned
   * function unregisters it. Two components of one kind may not share a name.
   */
  register(component: ComponentStats): () => void {
    return this.registry.register(component)
  }

  /** The registered bridges and gateways (of one kind), ordered by name. */
  components(kind?: ComponentStats['kind']): ComponentStats[] {
    return this.registry.list(kind)
  }

  /** Connected clients of this broker, ordered by client id. */
  clients(): ClientDetails[] {
    const list: ClientDetails[] = []
    for (const connection of this.ctx.sessions.online.values()) list.push(this.details(connection))
    return list.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }

  client(clientId: string): ClientDetails | undefined {
    const connection = this.ctx.sessions.online.get(clientId)
    return connection ? this.details(connection) : undefined
  }

  private details(connection: Connection): ClientDetails {
    const session = connection.session
    return {
      id: connection.client.id,
      username: connection.client.username,
      address: address(connection),
      transport: connection.client.meta.transport ?? 'unknown',
      protocolVersion: connection.protocolVersion,
      connectedAt: connection.connectedAt,
      keepalive: connection.keepalive,
      sessionExpiryInterval: session?.expiryInterval ?? 0,
      subscriptions: session ? [...session.subscriptions.values()] : [],
      inflight: session?.inflightCount ?? 0,
      queued: session?.pending.length ?? 0,
      bytesIn: connection.bytesIn,
      bytesOut: connection.bytesOut,
      packetsIn: connection.packetsIn,
      packetsOut: connection.packetsOut,
      messagesIn: connection.publishIn,
      messagesOut: connection.publishOut,
    }
  }

  /**
   * Disconnects a client connected here: a v5 client first gets DISCONNECT 0x98 (administrative action).
   * Its will is published and a persistent session stays, as for any unexpected disconnection.
   */
  kick(clientId: string, reason = 'disconnected by an administrator'): void {
    const connection = this.ctx.sessions.online.get(clientId)
    if (!connection) throw this.notHere(clientId, ErrorCode.ClientNotFound, 'client')
    connection.close('kicked', ReasonCode.AdministrativeAction, reason)
  }

  private notHere(clientId: string, code: typeof ErrorCode.ClientNotFound | typeof ErrorCode.SessionNotFound, what: string): AdminError {
    const owner = this.ctx.cluster?.ownerOf(clientId)
    if (owner !== undefined && owner !== this.ctx.id) {
      return new AdminError(ErrorCode.OnOtherNode, `client '${clientId}' is connected to cluster node '${owner}'`)
    }
    return new AdminError(code, `no ${what} '${clientId}'`)
  }

  /** Sessions connected here and every session in the store (offline ones, and in a cluster other nodes'). */
  async sessions(): Promise<SessionSummary[]> {
    const byId = new Map<string, SessionSummary>()
    for (const record of await this.ctx.persistence.sessionList()) {
      byId.set(record.clientId, {
        clientId: record.clientId,
        state: record.disconnectedAt === undefined ? 'online' : 'offline',
        node: record.brokerId,
        protocolVersion: record.protocolVersion,
        expiryInterval: record.expiryInterval,
        disconnectedAt: record.disconnectedAt,
      })
    }
    for (const [clientId, connection] of this.ctx.sessions.online) {
      byId.set(clientId, {
        clientId,
        state: 'online',
        node: this.ctx.id,
        protocolVersion: connection.protocolVersion,
        expiryInterval: connection.session?.expiryInterval ?? 0,
        disconnectedAt: undefined,
      })
    }
    return [...byId.values()].sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0))
  }

  async session(clientId: string): Promise<SessionDetails | undefined> {
    const connection = this.ctx.sessions.online.get(clientId)
    const live = connection?.session
    if (connection && live) {
      return {
        clientId,
        state: 'online',
        node: this.ctx.id,
        protocolVersion: connection.protocolVersion,
        expiryInterval: live.expiryInterval,
        disconnectedAt: undefined,
        subscriptions: [...live.subscriptions.values()],
        queued: live.queuedCount,
      }
    }
    const persistence = this.ctx.persistence
    const record = await persistence.sessionGet(clientId)
    if (!record) return undefined
    return {
      clientId,
      state: record.disconnectedAt === undefined ? 'online' : 'offline',
      node: record.brokerId,
      protocolVersion: record.protocolVersion,
      expiryInterval: record.expiryInterval,
      disconnectedAt: record.disconnectedAt,
      subscriptions: await persistence.subscriptionsGet(clientId),
      queued: await persistence.outboundCount(clientId),
    }
  }

  /**
   * Ends a session now: a client connected here is disconnected (v5: 0x98) and its session ends with it;
   * an offline session's subscriptions, queue and will go (a will still waiting on its delay is published).
   */
  async deleteSession(clientId: string): Promise<void> {
    const connection = this.ctx.sessions.online.get(clientId)
    if (connection) {
      // Expiry 0: the connection's end is the session's end, as after a v5 DISCONNECT with expiry 0.
      if (connection.session) connection.session.expiryInterval = 0
      connection.close('session-deleted', ReasonCode.AdministrativeAction, 'session deleted by an administrator')
      await this.ctx.sessions.flushAll()
      return
    }
    const owner = this.ctx.cluster?.ownerOf(clientId)
    if (owner !== undefined && owner !== this.ctx.id) throw this.notHere(clientId, ErrorCode.SessionNotFound, 'session')
    if (!(await this.ctx.sessions.discard(clientId))) throw this.notHere(clientId, ErrorCode.SessionNotFound, 'session')
  }

  /** Subscriptions of every session the router knows (online and offline), filtered, ordered by client then filter. */
  subscriptions(query: SubscriptionQuery = {}): SubscriptionEntry[] {
    const router = this.ctx.router
    const list: SubscriptionEntry[] = []
    if (query.topic !== undefined) {
      const problem = topicNameProblem(query.topic, this.ctx.topicLimits)
      if (problem) throw new AdminError(ErrorCode.TopicInvalid, `'${query.topic}': ${problem}`)
      for (const entry of router.match(query.topic)) if (!entry.listener) list.push(entryOf(entry.clientId, entry.subscription))
    } else {
      for (const entry of router.subscriptions()) list.push(entryOf(entry.clientId, entry.subscription))
    }
    const { clientId, filter } = query
    return list
      .filter((entry) => (clientId === undefined || entry.clientId === clientId) && (filter === undefined || entry.filter === filter))
      .sort((a, b) => (a.clientId === b.clientId ? (a.filter < b.filter ? -1 : 1) : a.clientId < b.clientId ? -1 : 1))
  }

  /** Retained messages whose topic matches `filter` (default every topic outside `$`-topics), ordered by topic. */
  async retained(filter = '#'): Promise<Message[]> {
    const problem = topicFilterProblem(filter, this.ctx.topicLimits)
    if (problem || isSharedFilter(filter)) throw new AdminError(ErrorCode.TopicInvalid, `'${filter}': ${problem ?? 'not a plain topic filter'}`)
    const messages = await this.ctx.persistence.retainedMatch(filter)
    return messages.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0))
  }

  async retainedMessage(topic: string): Promise<Message | undefined> {
    this.checkTopic(topic)
    const [message] = await this.ctx.persistence.retainedMatch(topic)
    return message
  }

  /** Clears the retained message of `topic`, as a retained PUBLISH with an empty payload would, without routing one. */
  async deleteRetained(topic: string): Promise<boolean> {
    this.checkTopic(topic)
    const existed = (await this.ctx.persistence.retainedMatch(topic)).length > 0
    if (existed) await this.ctx.persistence.retainedStore({ topic, payload: Buffer.alloc(0), qos: 0, retain: true })
    return existed
  }

  private checkTopic(topic: string): void {
    const problem = topicNameProblem(topic, this.ctx.topicLimits)
    if (problem) throw new AdminError(ErrorCode.TopicInvalid, `'${topic}': ${problem}`)
  }

  /**
   * Current levels, from counts kept as sessions change (no store scan: the cost does not grow with the number
   * of stored sessions). In a cluster, offline sessions count on the node that last held them, and the
   * subscription counts are the shared routing table's (the same on every node).
   */
  async gauges(): Promise<BrokerGauges> {
    const { sessions, router, persistence, cluster } = this.ctx
    let queued = 0
    let inflight = 0
    for (const connection of sessions.online.values()) {
      const session = connection.session
      if (!session) continue
      queued += session.pending.length
      inflight += session.inflightCount
    }
    const offline = sessions.offline
    // A session held offline here that resumed on another node is let go of here, a bounded batch at a time.
    if (cluster) offline.sweep((clientId) => sessions.isOnline(clientId), OFFLINE_SWEEP)
    return {
      clientsConnected: sessions.connectedCount,
      sessionsOnline: sessions.connectedCount,
      sessionsOffline: offline.sessions,
      subscriptions: router.size - router.listenerSize,
      sharedSubscriptions: router.sharedSize,
      retainedMessages: await persistence.retainedCount(),
      queuedMessages: queued,
      inflightMessages: inflight,
      offlineQueuedMessages: offline.messages,
      offlineQueuedBytes: offline.bytes,
    }
  }

  /** Whether this broker is one node of a cluster (metrics then carry a `node` label). */
  get clustered(): boolean {
    return this.ctx.cluster !== undefined
  }
}
