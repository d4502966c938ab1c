import type { ClusterBus } from './cluster/cluster-bus.js'
import type { ClientInfo, HookOptions } from './hooks/hook-types.js'
import type { FullQueueAction } from './session/session.js'
import type { Persistence } from './persistence/persistence.js'
import type { Message, QoS } from './types.js'

/** A pino-compatible logger subset: pass `pino()` or anything with these methods. */
export interface Logger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

/** The logger when none is given: the broker says nothing. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
}

/** What happens when a client's offline/outbound queue is full. */
export type QueueFullPolicy = 'drop-new' | 'drop-old'

export interface BrokerOptions {
  /** Unique per broker process; generated when absent. */
  id?: string
  /** Where sessions, retained messages, queues and wills are kept. Default: in memory. */
  persistence?: Persistence
  hooks?: HookOptions
  /** Joins a cluster of brokers sharing one store (e.g. `@wren/cluster-redis`); the broker id becomes the bus's node id. */
  cluster?: ClusterBus
  /** How a shared subscription group picks its member for a message. Default: round-robin, connected members first. */
  sharedSubscriptionStrategy?: SharedSubscriptionStrategy
  logger?: Logger
  /** Milliseconds a new stream may take to send CONNECT before it is closed. Default 10000. */
  connectTimeout?: number
  /** Largest packet accepted from a client, in bytes. Default 268435455 (the protocol's maximum). */
  maxPacketSize?: number
  /** QoS 1/2 messages in flight to one client before the rest are queued. Default 100. */
  maxInflight?: number
  /**
   * QoS 1/2 messages held for one client, queued and in flight together. A connected client that reaches it holds
   * its publishers back (see `fullQueueAction`); an offline session's queue drops by `queueFullPolicy`. Default 1000.
   */
  maxQueued?: number
  /**
   * Payload bytes an offline persistent session's stored queue may hold (queued and in flight together, beside the
   * `maxQueued` count). A message that would take it over is dropped by `queueFullPolicy` and counted as
   * `queueFull`; one larger than the cap on its own is never queued. 0 = no cap. Default 64 MiB.
   */
  maxQueuedBytes?: number
  /** Which message goes when an offline session's queue (or, with `fullQueueAction: 'drop'`, any queue) is full. */
  queueFullPolicy?: QueueFullPolicy
  /**
   * What a connected client's full queue does. `'hold-publishers'` (default): the message is kept and the
   * publishers whose messages fill it are not read until it has room, so no acknowledged QoS 1/2 message is lost
   * for a client that keeps up. `'drop'`: Mosquitto's behaviour, the message is dropped by `queueFullPolicy`.
   * A function chooses per client, when it connects.
   */
  fullQueueAction?: FullQueueAction | ((client: ClientInfo) => FullQueueAction)
  /** Bytes buffered on one client's socket before it is congested: QoS 1/2 wait in its queue, QoS 0 holds publishers. Default 4 MiB. */
  maxSocketBuffer?: number
  /**
   * Milliseconds a congested client may hold publishers back for QoS 0 messages; after that its QoS 0 messages
   * are dropped (and counted) until its socket drains. Default 2000.
   */
  qos0HoldTime?: number
  /**
   * Milliseconds a client that is behind (congested, or with a full queue) may go without acknowledging anything
   * or reading a byte before it is disconnected as stuck (v5: DISCONNECT 0x97). Default 10000.
   */
  drainTimeout?: number
  maxTopicLength?: number
  maxTopicLevels?: number
  maxClientIdLength?: number
  maxSubscriptionsPerClient?: number
  /**
   * UTF-8 bytes of topic filters one session may hold (with `maxSubscriptionsPerClient`, what its subscriptions
   * cost in memory and in the store); a filter past it is refused (0x97; 3.1.1: 0x80). 0 = no cap. Default 4 MiB.
   */
  maxSubscriptionBytesPerClient?: number
  maxConnections?: number
  /** Highest QoS the broker grants/accepts. Default 2. */
  maxQos?: QoS
  retainAvailable?: boolean
  /** MQTT 5: cap on the client's keepalive; a client asking for more is told this value. 0 = no cap. */
  maxKeepalive?: number
  /** MQTT 5: Receive Maximum announced to clients. Default 65535. */
  receiveMaximum?: number
  /** MQTT 5: Topic Alias Maximum announced to clients. Default 65535 (0 disables). */
  topicAliasMaximum?: number
  /** MQTT 5: cap on session expiry intervals, in seconds. */
  maxSessionExpiryInterval?: number
  /** Seconds between `$SYS/broker/...` updates; 0 turns them off. Default 10. */
  sysInterval?: number
  /** Entries in the topic-match cache. Default 10000. */
  matchCacheSize?: number
  /** Per-client PUBLISH packets per second; over it the broker stops reading that client for a while. 0 = no limit. */
  maxPublishRate?: number
  /** MQTT 5: Response Information sent in CONNACK to clients that request it. '' = none. */
  responseInformation?: string
  /** MQTT 5: Server Reference sent with CONNACK/DISCONNECT 0x9C/0x9D when the broker redirects. '' = none. */
  serverReference?: string
  /** Largest packet accepted before CONNECT is accepted (the CONNECT itself included), in bytes. Default 65536. */
  maxConnectPacketSize?: number
  /** MQTT 5: User Properties accepted in one packet (or will); more closes the connection with 0x97. Default 1024. */
  maxUserProperties?: number
  /** MQTT 5: whether CONNACK, DISCONNECT and acks carry a Reason String (it can reveal why a client was refused). Default true. */
  reasonStrings?: boolean
  /** MQTT 5: bytes of topic names one connection's topic aliases may hold, each direction. A client setting more gets 0x97. Default 1 MiB. */
  maxTopicAliasBytes?: number
  /** Retained messages kept in all; past it a retained message for a new topic is delivered but not kept. 0 = no cap. Default 0. */
  maxRetainedMessages?: number
  /** Payload bytes of all retained messages; a retained message that would take the total past it is delivered but not kept. 0 = no cap. Default 0. */
  maxRetainedBytes?: number
  /** Stored sessions (persistent ones, online and offline); a CONNECT that would create one more is refused (0x97; 3.1.1: 3). 0 = no cap. Default 0. */
  maxSessions?: number
}

/** Picks which member of a shared subscription group gets a message: an index into `members`. */
export type SharedSubscriptionStrategy = (group: string, members: readonly SharedMember[], message: Message) => number

export interface SharedMember {
  clientId: string
  /** Whether the member's client is connected right now. */
  online: boolean
}

export type ResolvedOptions = Required<Omit<BrokerOptions, 'persistence' | 'hooks' | 'logger' | 'id' | 'sharedSubscriptionStrategy' | 'cluster'>>

export const DEFAULT_OPTIONS: ResolvedOptions = {
  connectTimeout: 10_000,
  maxPacketSize: 268_435_455,
  maxInflight: 100,
  maxQueued: 1000,
  maxQueuedBytes: 64 * 1024 * 1024,
  queueFullPolicy: 'drop-new',
  fullQueueAction: 'hold-publishers',
  maxSocketBuffer: 4 * 1024 * 1024,
  qos0HoldTime: 2000,
  drainTimeout: 10_000,
  maxTopicLength: 65535,
  maxTopicLevels: 128,
  maxClientIdLength: 65535,
  maxSubscriptionsPerClient: 10_000,
  maxSubscriptionBytesPerClient: 4 * 1024 * 1024,
  maxConnections: 1_000_000,
  maxQos: 2,
  retainAvailable: true,
  maxKeepalive: 0,
  receiveMaximum: 65535,
  topicAliasMaximum: 65535,
  maxSessionExpiryInterval: 0xffffffff,
  sysInterval: 10,
  matchCacheSize: 10_000,
  maxPublishRate: 0,
  responseInformation: '',
  serverReference: '',
  maxConnectPacketSize: 65_536,
  maxUserProperties: 1024,
  reasonStrings: true,
  maxTopicAliasBytes: 1024 * 1024,
  maxRetainedMessages: 0,
  maxRetainedBytes: 0,
  maxSessions: 0,
}
