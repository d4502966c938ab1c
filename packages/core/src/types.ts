import type { Duplex } from 'node:stream'
import type { PeerCertificate } from 'node:tls'

export type QoS = 0 | 1 | 2
/** 3 = MQTT 3.1, 4 = MQTT 3.1.1, 5 = MQTT 5.0 */
export type ProtocolVersion = 3 | 4 | 5

export type UserProperties = Record<string, string | string[]>

/** MQTT 5 properties that travel with an application message from publisher to subscriber. */
export interface MessageProperties {
  payloadFormatIndicator?: boolean
  /** Seconds, as sent by the publisher; the broker tracks the deadline in `Message.expiresAt`. */
  messageExpiryInterval?: number
  contentType?: string
  responseTopic?: string
  correlationData?: Buffer
  userProperties?: UserProperties
}

/** An application message as the broker routes and stores it: stored once, referenced per session. */
export interface Message {
  /** Unique within the store: assigned by the broker when the message enters. */
  id?: string
  topic: string
  payload: Buffer
  qos: QoS
  retain: boolean
  properties?: MessageProperties
  /** Epoch milliseconds after which the message must not be delivered (MQTT 5 message expiry). */
  expiresAt?: number
  /** The client id of the publisher (undefined for messages the host app publishes): used for No Local. */
  origin?: string
}

/** What the host passes to `broker.publish()`. */
export interface PublishInput {
  topic: string
  payload?: string | Buffer | Uint8Array
  qos?: QoS
  retain?: boolean
  properties?: MessageProperties
}

export type RetainHandling = 0 | 1 | 2

export interface Subscription {
  /** The filter as the client sent it, `$share/<group>/` prefix included for shared subscriptions. */
  filter: string
  qos: QoS
  noLocal?: boolean
  retainAsPublished?: boolean
  retainHandling?: RetainHandling
  subscriptionIdentifier?: number
}

/** What the host tells the broker about a stream it hands over. */
export interface ConnectionMeta {
  /** e.g. 'tcp', 'tls', 'ws', 'wss', 'memory' */
  transport?: string
  remoteAddress?: string
  remotePort?: number
  certificate?: PeerCertificate
  [key: string]: unknown
}

export type BrokerStream = Duplex
