import { BridgeErrorCode } from './bridge-errors.js'
import { isIP } from 'node:net'
import { hostname } from 'node:os'
import { topicNameProblem } from '@wren/core'
import type { RestartTimeout } from './backoff.js'
import type { BridgeLease } from './lease.js'
import type { LinkVersion } from './mqtt-link.js'
import { TopicMap, type BridgeTopic } from './topic-map.js'

export type StartType = 'automatic' | 'lazy' | 'once'

/** TLS to the remote broker (Mosquitto's bridge_cafile, bridge_certfile, ...): file paths, read at each connect. */
export interface BridgeTls {
  /** PEM CA bundle the remote's certificate is verified against. */
  cafile?: string
  /** A directory of PEM CA certificates: every *.crt and *.pem in it, and the hashed names c_rehash makes. */
  capath?: string
  /** PEM client certificate, when the remote asks for one. */
  certfile?: string
  keyfile?: string
  /** Skips the host name check of the remote's certificate (the chain is still verified). Testing only. */
  insecure?: boolean
  /** 'tlsv1.3', 'tlsv1.2' or 'tlsv1.1'. Default: Node's. */
  version?: 'tlsv1.1' | 'tlsv1.2' | 'tlsv1.3'
  alpn?: string
  /** TLS-PSK instead of certificates (Mosquitto's bridge_identity): the identity sent to the remote. Needs `psk`. */
  identity?: string
  /** The pre-shared key, in hexadecimal (Mosquitto's bridge_psk). Needs `identity`; excludes cafile/capath/certfile. */
  psk?: string
  /** The remote must staple a good OCSP response for its certificate, signed by its issuer or its OCSP responder (bridge_require_ocsp). */
  requireOcsp?: boolean
}

export interface BridgeAddress {
  host: string
  /** Default 1883. */
  port?: number
}

/** One bridge, with Mosquitto's names and defaults (`connection <name>` block) unless said otherwise. */
export interface BridgeOptions {
  /** The connection name; the remote client id defaults to `<hostname>.<name>`. */
  name: string
  /** Remote brokers, tried in order; at least one. */
  addresses: Array<BridgeAddress | string>
  /** Local IP address the remote connection leaves from (a particular interface). Default: the system's choice. */
  bindAddress?: string
  /** On failure go on to the next address and stay there (true), or start each attempt from the first (false, default). */
  roundRobin?: boolean
  topics: BridgeTopic[]
  /** MQTT version to the remote: 3 (3.1), 4 (3.1.1, default) or 5. */
  protocolVersion?: LinkVersion
  /** 3.1/3.1.1: connect with the bridge bit (protocol level 0x83/0x84); retried without it if refused. Default true. */
  tryPrivate?: boolean
  /** Clean session on the remote. Default false: the remote keeps the bridge's subscriptions and messages. */
  cleanSession?: boolean
  /** Clean session on the local broker. Default: `cleanSession`. With false, messages for the remote wait in Wren's queue. */
  localCleanSession?: boolean
  remoteClientId?: string
  /** Default `local.<remoteClientId>`. */
  localClientId?: string
  remoteUsername?: string
  remotePassword?: string
  localUsername?: string
  localPassword?: string
  /** Retained '1'/'0' state messages on `notificationTopic`, locally and remotely ('0' is the remote will). Default true. */
  notifications?: boolean
  notificationsLocalOnly?: boolean
  /** Default `$SYS/broker/connection/<remoteClientId>/state`. */
  notificationTopic?: string
  /** Seconds. Default 60, at least 5. */
  keepalive?: number
  /** Seconds between reconnection attempts: a constant, or decorrelated jitter. Default { base: 5, cap: 30 }. */
  restartTimeout?: number | RestartTimeout
  /** Default 'automatic'. */
  startType?: StartType
  /** lazy: seconds without traffic before the link is closed. Default 60. */
  idleTimeout?: number
  /** lazy: messages waiting for the remote before the link is opened. Default 10. */
  threshold?: number
  /** Unsubscribe on the remote from the filters of 'out' rules (a former 'in' rule's session). Default true. */
  attemptUnsubscribe?: boolean
  /** A subscription the remote refuses (SUBACK failure code) fails the connection attempt (true, default) or is logged. */
  fatalSubErrors?: boolean
  /** false clears the retain flag of everything sent to the remote. Default true. */
  outgoingRetain?: boolean
  /** Largest packet sent to the remote, in bytes; larger messages are dropped. 0 (default) = no limit. */
  maxPacketSize?: number
  tls?: BridgeTls
  /** QoS 1/2 messages the local broker may have in flight to the bridge (and so to the remote). Default 100. */
  maxInflight?: number
  /** v5 links: drop a message that already crossed this many bridges (user property `wren-hops`). 0 = off (default). */
  hopLimit?: number
  /** Seconds between updates of `$SYS/broker/bridge/<name>/...` on the local broker; 0 turns them off. Default 10. */
  sysInterval?: number
  /** In a cluster: the bridge runs only while this node holds its lease (see BridgeLease). Default: always. */
  lease?: BridgeLease
}

export interface ResolvedBridgeOptions {
  name: string
  addresses: Array<Required<BridgeAddress>>
  roundRobin: boolean
  bindAddress: string | undefined
  topics: TopicMap
  protocolVersion: LinkVersion
  tryPrivate: boolean
  cleanSession: boolean
  localCleanSession: boolean
  remoteClientId: string
  localClientId: string
  remoteUsername: string | undefined
  remotePassword: string | undefined
  localUsername: string | undefined
  localPassword: string | undefined
  notifications: boolean
  notificationsLocalOnly: boolean
  notificationTopic: string
  keepalive: number
  restartTimeout: RestartTimeout
  startType: StartType
  idleTimeout: number
  threshold: number
  attemptUnsubscribe: boolean
  outgoingRetain: boolean
  fatalSubErrors: boolean
  maxPacketSize: number
  tls: BridgeTls | undefined
  maxInflight: number
  hopLimit: number
  sysInterval: number
  lease: BridgeLease | undefined
}

/** A bridge option of the wrong type or range, or unknown. */
export class BridgeOptionsError extends Error {
  override name = 'BridgeOptionsError'
  readonly code = BridgeErrorCode.OptionInvalid
}

/** 'host', 'host:port' or '[v6]:port'. */
export function parseAddress(address: string): Required<BridgeAddress> {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(address)
  const match = v6 ?? /^([^:\s]+)(?::(\d+))?$/.exec(address)
  if (!match || match[1] === undefined) throw new BridgeOptionsError(`'${address}' is not host[:port]`)
  return { host: match[1], port: port(match[2] === undefined ? 1883 : Number(match[2]), address) }
}

function port(value: number, label: string): number {
  if (!Number.isInteger(value) || value < 1 || value > 65535) throw new BridgeOptionsError(`port of '${label}' must be 1 to 65535`)
  return value
}

function positiveInteger(value: number, label: string, min: number): number {
  if (!Number.isInteger(value) || value < min) throw new BridgeOptionsError(`${label} must be an integer of at least ${min}, got ${value}`)
  return value
}

function restartTimeout(value: number | RestartTimeout | undefined): RestartTimeout {
  if (value === undefined) return { base: 5, cap: 30 }
  const timeout = typeof value === 'number' ? { base: value, cap: value } : value
  if (!(timeout.base > 0) || !(timeout.cap >= timeout.base)) throw new BridgeOptionsError('restartTimeout needs 0 < base <= cap (seconds)')
  return timeout
}

const KNOWN_OPTIONS: Record<keyof BridgeOptions, true> = {
  name: true,
  addresses: true,
  roundRobin: true,
  bindAddress: true,
  topics: true,
  protocolVersion: true,
  tryPrivate: true,
  cleanSession: true,
  localCleanSession: true,
  remoteClientId: true,
  localClientId: true,
  remoteUsername: true,
  remotePassword: true,
  localUsername: true,
  localPassword: true,
  notifications: true,
  notificationsLocalOnly: true,
  notificationTopic: true,
  keepalive: true,
  restartTimeout: true,
  startType: true,
  idleTimeout: true,
  threshold: true,
  attemptUnsubscribe: true,
  outgoingRetain: true,
  fatalSubErrors: true,
  maxPacketSize: true,
  tls: true,
  maxInflight: true,
  hopLimit: true,
  sysInterval: true,
  lease: true,
}

const KNOWN_TLS_OPTIONS: Record<keyof BridgeTls, true> = {
  cafile: true,
  capath: true,
  certfile: true,
  keyfile: true,
  insecure: true,
  version: true,
  alpn: true,
  identity: true,
  psk: true,
  requireOcsp: true,
}

function checkTls(tls: BridgeTls | undefined, name: string): void {
  if (tls === undefined) return
  const unknown = Object.keys(tls).filter((key) => !(key in KNOWN_TLS_OPTIONS))
  if (unknown.length > 0) throw new BridgeOptionsError(`bridge ${name}: unknown tls option ${unknown.join(', ')} (known: ${Object.keys(KNOWN_TLS_OPTIONS).join(', ')})`)
  if ((tls.identity === undefined) !== (tls.psk === undefined)) throw new BridgeOptionsError(`bridge ${name}: TLS-PSK needs both identity and psk`)
  if (tls.psk === undefined) return
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(tls.psk)) throw new BridgeOptionsError(`bridge ${name}: psk must be an even number of hexadecimal digits`)
  if (tls.cafile !== undefined || tls.capath !== undefined || tls.certfile !== undefined || tls.keyfile !== undefined || tls.requireOcsp) {
    throw new BridgeOptionsError(`bridge ${name}: TLS-PSK (identity, psk) and certificates (cafile, capath, certfile, keyfile, requireOcsp) exclude each other`)
  }
}

/** Defaults filled in and every value checked; throws BridgeOptionsError (or TopicRuleError for a topic). */
export function resolveBridgeOptions(options: BridgeOptions): ResolvedBridgeOptions {
  if (typeof options.name !== 'string' || options.name === '') throw new BridgeOptionsError('a bridge needs a name')
  const unknown = Object.keys(options).filter((key) => !(key in KNOWN_OPTIONS))
  if (unknown.length > 0) throw new BridgeOptionsError(`bridge ${options.name}: unknown option ${unknown.join(', ')} (known: ${Object.keys(KNOWN_OPTIONS).join(', ')})`)
  if (!Array.isArray(options.addresses) || options.addresses.length === 0) throw new BridgeOptionsError(`bridge ${options.name} needs at least one address`)
  const addresses = options.addresses.map((address) =>
    typeof address === 'string' ? parseAddress(address) : { host: address.host, port: port(address.port ?? 1883, address.host) },
  )
  if (!Array.isArray(options.topics) || options.topics.length === 0) throw new BridgeOptionsError(`bridge ${options.name} needs at least one topic`)
  const version = options.protocolVersion ?? 4
  if (version !== 3 && version !== 4 && version !== 5) throw new BridgeOptionsError(`protocolVersion must be 3, 4 or 5, got ${String(version)}`)
  const remoteClientId = options.remoteClientId ?? `${hostname()}.${options.name}`
  const localClientId = options.localClientId ?? `local.${remoteClientId}`
  if (localClientId === remoteClientId) throw new BridgeOptionsError('localClientId and remoteClientId must differ')
  const notificationTopic = options.notificationTopic ?? `$SYS/broker/connection/${remoteClientId}/state`
  const problem = topicNameProblem(notificationTopic)
  if (problem) throw new BridgeOptionsError(`notification topic '${notificationTopic}': ${problem}`)
  if (options.remotePassword !== undefined && options.remoteUsername === undefined && version !== 5) {
    throw new BridgeOptionsError('remotePassword needs remoteUsername')
  }
  const cleanSession = options.cleanSession ?? false
  if (options.bindAddress !== undefined && isIP(options.bindAddress) === 0) throw new BridgeOptionsError(`bindAddress must be an IP address, got '${options.bindAddress}'`)
  checkTls(options.tls, options.name)
  const startType = options.startType ?? 'automatic'
  if (startType !== 'automatic' && startType !== 'lazy' && startType !== 'once') throw new BridgeOptionsError(`startType must be automatic, lazy or once`)
  return {
    name: options.name,
    addresses,
    roundRobin: options.roundRobin ?? false,
    bindAddress: options.bindAddress,
    topics: new TopicMap(options.topics),
    protocolVersion: version,
    tryPrivate: options.tryPrivate ?? true,
    cleanSession,
    localCleanSession: options.localCleanSession ?? cleanSession,
    remoteClientId,
    localClientId,
    remoteUsername: options.remoteUsername,
    remotePassword: options.remotePassword,
    localUsername: options.localUsername,
    localPassword: options.localPassword,
    notifications: options.notifications ?? true,
    notificationsLocalOnly: options.notificationsLocalOnly ?? false,
    notificationTopic,
    keepalive: positiveInteger(options.keepalive ?? 60, 'keepalive', 5),
    restartTimeout: restartTimeout(options.restartTimeout),
    startType,
    idleTimeout: positiveInteger(options.idleTimeout ?? 60, 'idleTimeout', 1),
    threshold: positiveInteger(options.threshold ?? 10, 'threshold', 1),
    attemptUnsubscribe: options.attemptUnsubscribe ?? true,
    outgoingRetain: options.outgoingRetain ?? true,
    fatalSubErrors: options.fatalSubErrors ?? true,
    maxPacketSize: positiveInteger(options.maxPacketSize ?? 0, 'maxPacketSize', 0),
    tls: options.tls,
    maxInflight: positiveInteger(options.maxInflight ?? 100, 'maxInflight', 1),
    hopLimit: positiveInteger(options.hopLimit ?? 0, 'hopLimit', 0),
    sysInterval: positiveInteger(options.sysInterval ?? 10, 'sysInterval', 0),
    lease: options.lease,
  }
}
