import type { Message, ProtocolVersion, QoS, Subscription } from '../types.js'

/** A session that outlives its connection (clean session 0 / session expiry > 0). */
export interface SessionRecord {
  clientId: string
  protocolVersion: ProtocolVersion
  /** Seconds; 0xFFFFFFFF means the session never expires. */
  expiryInterval: number
  /** Epoch ms when the client went offline; undefined while it is connected. */
  disconnectedAt?: number
  /** The broker that holds (or last held) the connection: lets a cluster find orphaned sessions. */
  brokerId?: string
}

/** One message waiting for, or in flight to, one client: the message is shared, this state is per client. */
export interface OutboundEntry {
  message: Message
  /** QoS for this delivery: min(message QoS, granted QoS). */
  qos: QoS
  /** Set once the message has been sent to the client. */
  packetId?: number
  /** 'queued': not yet sent; 'sent': PUBLISH sent, awaiting PUBACK/PUBREC; 'released': PUBREL sent, awaiting PUBCOMP. */
  state: 'queued' | 'sent' | 'released'
  subscriptionIdentifiers?: number[]
  /** Whether the retain flag is kept on delivery (Retain As Published). */
  retain?: boolean
}

export interface OutboundTarget {
  clientId: string
  qos: QoS
  subscriptionIdentifiers?: number[]
  retain?: boolean
}

export interface WillRecord {
  clientId: string
  brokerId?: string
  message: Message
  /** MQTT 5 will delay interval in seconds (0 for v3). */
  delayInterval: number
}

export interface ClientSubscriptions {
  clientId: string
  subscriptions: Subscription[]
}

/**
 * Everything a broker must keep beyond the life of one connection.
 *
 * Each method is async so that a remote store fits; an in-memory store may resolve at once.
 * The shared suite in `@wren/persistence-test-suite` pins down the semantics every adapter must have.
 */
export interface Persistence {
  /**
   * True when calls take effect in the order they are made even if the caller does not wait for each (a
   * synchronous store, or one connection that pipelines): the broker then issues a session's writes
   * without waiting for the previous one, and routes a connection's next QoS 1 PUBLISH before the previous
   * one is stored (each is acknowledged, in order, once its own writes have settled). Leave it unset for a
   * store that may reorder (e.g. a pool).
   */
  readonly appliesInCallOrder?: boolean

  /** Stores a retained message, replacing the one on its topic; an empty payload clears the topic. */
  retainedStore(message: Message): Promise<void>
  /** Retained messages whose topic matches the filter (wildcards allowed), expired ones left out. */
  retainedMatch(filter: string): Promise<Message[]>
  retainedCount(): Promise<number>
  /** Payload bytes of every stored retained message (what `maxRetainedBytes` bounds). */
  retainedBytes(): Promise<number>

  sessionSave(record: SessionRecord): Promise<void>
  sessionGet(clientId: string): Promise<SessionRecord | undefined>
  /** Removes the session and everything that belongs to it: subscriptions, outbound queue, inbound QoS 2 ids, will, session data. */
  sessionDelete(clientId: string): Promise<void>
  sessionList(): Promise<SessionRecord[]>
  /**
   * Stores what a protocol gateway keeps with a session beyond the broker's own state (e.g. an MQTT-SN client's
   * topic ids), under `key`, replacing the previous value; `sessionDelete` removes it with the session.
   */
  sessionDataSet(clientId: string, key: string, value: string): Promise<void>
  sessionDataGet(clientId: string, key: string): Promise<string | undefined>
  /** Stored sessions, online and offline (what `maxSessions` bounds). */
  sessionCount(): Promise<number>

  /** Adds or replaces (same filter) subscriptions of a client. */
  subscriptionsAdd(clientId: string, subscriptions: Subscription[]): Promise<void>
  subscriptionsRemove(clientId: string, filters: string[]): Promise<void>
  subscriptionsGet(clientId: string): Promise<Subscription[]>
  /**
   * Every stored subscription, grouped by client: what a broker loads into its router at start. The router
   * then matches topics in memory, so the store keeps no index by topic.
   */
  subscriptionsAll(): Promise<ClientSubscriptions[]>

  /**
   * Appends one message to the queues of many clients at once (one round trip where the backend allows).
   * A queue is full for the message when it already holds `limit` entries, or when the payload bytes of its
   * entries (sent and released ones included) plus the message's would exceed `byteLimit`. Without `dropOldest`
   * a full queue does not take the message; with `dropOldest` its oldest 'queued' entries (never one in flight)
   * are removed one by one until the message fits, and a queue with nothing left to drop refuses it as well.
   * A message whose payload alone exceeds `byteLimit` is refused without dropping anything.
   * Returns one client id per message lost (refused or dropped): an id repeats when several went.
   */
  outboundEnqueue(targets: OutboundTarget[], message: Message, limit?: number, dropOldest?: boolean, byteLimit?: number): Promise<string[]>
  /** Marks the entry for `messageId` as sent with `packetId`. */
  outboundSent(clientId: string, messageId: string, packetId: number): Promise<void>
  /** PUBREC received: the entry with `packetId` becomes 'released' (its message body may be dropped). */
  outboundReleased(clientId: string, packetId: number): Promise<void>
  /** PUBACK or PUBCOMP received (or QoS 0 written): the entry leaves the queue. */
  outboundAck(clientId: string, packetId: number): Promise<void>
  /** Removes a not-yet-sent entry (e.g. delivered at QoS 0, or expired). */
  outboundRemove(clientId: string, messageId: string): Promise<void>
  /** The client's queue in order, including sent and released entries, for resending on reconnect. */
  outboundList(clientId: string): Promise<OutboundEntry[]>
  /** How many entries the client's queue holds, without reading them: what `broker.admin` shows for an offline session. */
  outboundCount(clientId: string): Promise<number>

  /** Inbound QoS 2: ids of PUBLISH packets received and routed whose PUBREL has not arrived yet. */
  incomingAdd(clientId: string, packetId: number): Promise<void>
  incomingHas(clientId: string, packetId: number): Promise<boolean>
  incomingRemove(clientId: string, packetId: number): Promise<void>

  willPut(record: WillRecord): Promise<void>
  willGet(clientId: string): Promise<WillRecord | undefined>
  willDelete(clientId: string): Promise<void>
  willList(): Promise<WillRecord[]>

  close(): Promise<void>
}
