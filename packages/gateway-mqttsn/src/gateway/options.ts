import { isReservedTopicId } from './topic-registry.js'

/** Where a datagram came from. */
export interface RemoteInfo {
  address: string
  port: number
}

/** What the broker's `authenticate` hook sees for an MQTT-SN client, whose CONNECT carries no credentials. */
export interface SnCredentials {
  username?: string
  password?: Buffer
}

export interface MqttSnOptions {
  /** GwId in GWINFO and ADVERTISE. Default 1. */
  gatewayId?: number
  /** Topic ids every client may use without REGISTER (id -> topic name); ids 0x0000 and 0xFFFF are reserved. */
  predefined?: Record<number, string>
  /** Accept QoS -1 PUBLISHes from clients that are not connected (predefined ids and short names). Default true. */
  qosMinus1?: boolean
  /** The broker session QoS -1 messages are published from: the client id hooks and ACLs see. Default 'mqtt-sn-qos-1'. */
  qosMinus1ClientId?: string
  /** Periodic ADVERTISE broadcasts; off unless given. */
  advertise?: { address: string; port: number; /** seconds */ interval: number }
  /**
   * A username/password for a client id, as its broker session logs in (MQTT-SN 1.2 CONNECT has none), so the
   * broker's `authenticate` hook decides; `false` refuses the client (CONNACK "rejected: not supported") before
   * any broker session opens. May be async.
   */
  credentials?: (clientId: string, remote: RemoteInfo) => SnCredentials | false | undefined | Promise<SnCredentials | false | undefined>
  /** Connected and sleeping clients. Default 10000; CONNECT beyond it gets "rejected: congestion". */
  maxClients?: number
  /** Largest datagram accepted or sent, in octets. Default 1024 (larger PUBLISHes to a client are dropped and counted). */
  maxDatagramSize?: number
  /** Messages held for one sleeping client; beyond it new ones are dropped and counted. Default 100. */
  maxBufferedPerSleeper?: number
  /** Topic ids one client may register. Default 1000. */
  maxRegistrationsPerClient?: number
  /** QoS 1/2 PUBLISHes a client may have unacknowledged towards the broker; beyond it: "rejected: congestion". Default 32. */
  maxInflightPerClient?: number
  /** Longest client id; the spec's limit is 23. Default 23. */
  maxClientIdLength?: number
  /** Milliseconds before an unacknowledged REGISTER/PUBLISH/PUBREL to a client is sent again (Tretry). Default 10000. */
  retryInterval?: number
  /** Retransmissions before the client is considered lost (Nretry). Default 3. */
  maxRetries?: number
  /** A client silent for its duration times this factor is lost. Default 1.5. */
  keepaliveGrace?: number
  /** Milliseconds a client may take to complete CONNECT (will handshake and broker's answer). Default 10000. */
  connectTimeout?: number
  /** Seconds the broker keeps a session of a client that connected without CleanSession. Default 0xFFFFFFFF (never expires). */
  sessionExpiry?: number
  /** Seconds between `$SYS/broker/mqtt-sn/...` updates; 0 turns them off. Default 10. */
  sysInterval?: number
}

export type ResolvedMqttSnOptions = Required<Omit<MqttSnOptions, 'advertise' | 'credentials' | 'predefined'>> &
  Pick<MqttSnOptions, 'advertise' | 'credentials'> & {
    predefined: ReadonlyMap<number, string>
    predefinedIds: ReadonlyMap<string, number>
  }

/** The code of an `MqttSnOptionsError` (docs/errors.md): hosts switch on `error.code`. */
export const MqttSnErrorCode = { OptionInvalid: 'WREN_MQTTSN_OPTION_INVALID' } as const

export type MqttSnErrorCode = (typeof MqttSnErrorCode)[keyof typeof MqttSnErrorCode]

/** A gateway option out of range: thrown by `attachMqttSn` before anything listens. */
export class MqttSnOptionsError extends RangeError {
  override name = 'MqttSnOptionsError'
  readonly code = MqttSnErrorCode.OptionInvalid
}

function positiveInteger(name: string, value: number, max = Number.MAX_SAFE_INTEGER, min = 1): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new MqttSnOptionsError(`mqtt-sn option ${name} must be an integer from ${min} to ${max}, got ${value}`)
  return value
}

export function resolveOptions(options: MqttSnOptions): ResolvedMqttSnOptions {
  const predefined = new Map<number, string>()
  const predefinedIds = new Map<string, number>()
  for (const [key, topic] of Object.entries(options.predefined ?? {})) {
    const id = Number(key)
    if (!Number.isInteger(id) || id < 0 || id > 0xffff || isReservedTopicId(id)) {
      throw new MqttSnOptionsError(`mqtt-sn predefined topic id ${key} must be an integer from 1 to 65534`)
    }
    if (typeof topic !== 'string' || topic === '') throw new MqttSnOptionsError(`mqtt-sn predefined topic id ${key} needs a topic name`)
    predefined.set(id, topic)
    predefinedIds.set(topic, id)
  }
  const maxRegistrations = positiveInteger('maxRegistrationsPerClient', options.maxRegistrationsPerClient ?? 1000, 0xfffe - predefined.size)
  const advertise = options.advertise
  if (advertise) positiveInteger('advertise.interval', advertise.interval, 0xffff)
  return {
    gatewayId: positiveInteger('gatewayId', options.gatewayId ?? 1, 255, 0),
    predefined,
    predefinedIds,
    qosMinus1: options.qosMinus1 ?? true,
    qosMinus1ClientId: options.qosMinus1ClientId ?? 'mqtt-sn-qos-1',
    advertise,
    credentials: options.credentials,
    maxClients: positiveInteger('maxClients', options.maxClients ?? 10_000),
    maxDatagramSize: positiveInteger('maxDatagramSize', options.maxDatagramSize ?? 1024, 0xffff, 8),
    maxBufferedPerSleeper: positiveInteger('maxBufferedPerSleeper', options.maxBufferedPerSleeper ?? 100, 0xffff),
    maxRegistrationsPerClient: maxRegistrations,
    maxInflightPerClient: positiveInteger('maxInflightPerClient', options.maxInflightPerClient ?? 32, 0xfffe),
    maxClientIdLength: positiveInteger('maxClientIdLength', options.maxClientIdLength ?? 23, 0xffff),
    retryInterval: positiveInteger('retryInterval', options.retryInterval ?? 10_000),
    maxRetries: positiveInteger('maxRetries', options.maxRetries ?? 3, 1000, 0),
    keepaliveGrace: options.keepaliveGrace ?? 1.5,
    connectTimeout: positiveInteger('connectTimeout', options.connectTimeout ?? 10_000),
    sessionExpiry: positiveInteger('sessionExpiry', options.sessionExpiry ?? 0xffffffff, 0xffffffff, 0),
    sysInterval: positiveInteger('sysInterval', options.sysInterval ?? 10, 86_400, 0),
  }
}
