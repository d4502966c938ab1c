import type { ClusterBus } from './cluster/cluster-bus.js'
import type { HookOptions } from './hooks/hook-types.js'
import type { Persistence } from './persistence/persistence.js'
import type { Message, QoS } from './types.js'

/** A pino-compatible logger subset: pass `pino()` or anything with these methods. */
export interface Logger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
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
  /** QoS 1/2 messages held for one client, queued and in flight together (online or offline), before `queueFullPolicy` applies. Default 1000. */
  maxQueued?: number
  queueFullPolicy?: QueueFullPolicy
  /** Bytes buffered on one client's socket before it is treated as slow and paused. Default 4 MiB. */
  maxSocketBuffer?: number
  /** Milliseconds a slow client may stay above `maxSocketBuffer` before it is disconnected. Default 30000. */
  drainTimeout?: number
  maxTopicLength?: number
  maxTopicLevels?: number
  maxClientIdLength?: number
  maxSubscriptionsPerClient?: number
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
  queueFullPolicy: 'drop-new',
  maxSocketBuffer: 4 * 1024 * 1024,
  drainTimeout: 30_000,
  maxTopicLength: 65535,
  maxTopicLevels: 128,
  maxClientIdLength: 65535,
  maxSubscriptionsPerClient: 10_000,
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
}
