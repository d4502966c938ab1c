import { BROKER_OPTION_RULES, type BrokerOptionName, type BrokerOptions } from '@wren/core'
import {
  boolean,
  describe,
  filePath,
  fromRule,
  integer,
  nonEmptyString,
  oneOf,
  origins,
  port,
  redisUrl,
  wsPath,
  type Check,
} from './checks.js'
import { bridgesSetting, type BridgeConfig } from './bridge-settings.js'
import { ConfigError } from './config-error.js'
import { listenerConfigs, type ListenerConfig } from './listener-config.js'
import { parsePersistence, type PersistenceSpec } from './persistence-spec.js'
import { parseLwm2mConfig, type Lwm2mConfig } from './lwm2m.js'
import { parseMqttSnConfig, type MqttSnConfig } from './mqttsn.js'

/**
 * How a flag's text becomes a value: `number` turns whole numbers into numbers, `boolean` reads true/false,
 * `switch` takes no value and means true, `string` keeps the text. The setting's check then judges it.
 */
export type FlagKind = 'number' | 'boolean' | 'switch' | 'string'

/** One setting of the server: config key (the table key), flag, type and range (`check`), default and help. */
export interface Setting<T, D extends T | undefined> {
  /** The long flag without its dashes; absent for settings only a config file can hold. */
  flag?: string
  short?: string
  kind: FlagKind
  /** The value's name in the help text, e.g. `<n>`. */
  arg?: string
  check: Check<T>
  /** Undefined leaves it to the broker's own default. */
  default: D
  /** One line of help. */
  doc: string
  /** The `createBroker` option it sets. */
  broker?: BrokerOptionName
}

function setting<T, D extends T | undefined = undefined>(spec: Setting<T, D>): Setting<T, D> {
  return spec
}

const FLAG_KIND: Record<string, FlagKind> = { integer: 'number', boolean: 'boolean' }

/** A setting that passes straight to `createBroker`: its type and range are the core's own rule for the option. */
function brokerOption<N extends BrokerOptionName>(broker: N, flag: string, doc: string): Setting<NonNullable<BrokerOptions[N]>, undefined> {
  const rule = BROKER_OPTION_RULES[broker]
  const kind = FLAG_KIND[rule.type] ?? 'string'
  const arg = rule.type === 'enum' ? `<${rule.values.join('|')}>` : kind === 'boolean' ? '<true|false>' : kind === 'number' ? '<n>' : '<text>'
  return { flag, kind, arg, check: fromRule(rule), default: undefined, doc, broker }
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]
export const LOG_FORMATS = ['json', 'pretty'] as const
export type LogFormat = (typeof LOG_FORMATS)[number]

const MAX_WORKERS = 1024

function workers(value: unknown, label: string): number | 'auto' {
  if (value === 'auto') return value
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_WORKERS) {
    throw new ConfigError(`${label} must be "auto" or an integer from 1 to ${MAX_WORKERS}, got ${describe(value)}`)
  }
  return value
}

/**
 * Every setting, in the order of `--help`. Adding one here gives it a flag, a config key, validation with
 * messages naming the flag or the key and file, and a line of help; one with `broker` reaches `createBroker`.
 */
export const SETTINGS = {
  host: setting<string>({ flag: 'host', kind: 'string', arg: '<addr>', check: nonEmptyString, default: undefined, doc: 'address every listener binds to (default 0.0.0.0 with authentication, 127.0.0.1 without)' }),
  port: setting({ flag: 'port', short: 'p', kind: 'number', arg: '<n>', check: port, default: 1883, doc: 'MQTT over TCP port (default 1883; 0 = any free port; -1 = off)' }),
  wsPort: setting({ flag: 'ws-port', kind: 'number', arg: '<n>', check: port, default: 8083, doc: 'MQTT over WebSocket port (default 8083; 0 = any free port; -1 = off)' }),
  wsPath: setting({ flag: 'ws-path', kind: 'string', arg: '<path>', check: wsPath, default: '/mqtt', doc: 'HTTP path of the WebSocket listeners (default /mqtt)' }),
  wsOrigins: setting<string[]>({ flag: 'ws-origins', kind: 'string', arg: '<list>', check: origins, default: undefined, doc: 'comma-separated browser origins allowed on the WebSocket listeners (default any)' }),
  tlsPort: setting({ flag: 'tls-port', kind: 'number', arg: '<n>', check: port, default: -1, doc: 'MQTT over TLS port (default off; 0 = any free port)' }),
  wssPort: setting({ flag: 'wss-port', kind: 'number', arg: '<n>', check: port, default: -1, doc: 'MQTT over secure WebSocket port (default off; 0 = any free port)' }),
  listeners: setting<ListenerConfig[], ListenerConfig[]>({ kind: 'string', check: listenerConfigs, default: [], doc: 'listeners of their own (config file only; see docs/server.md)' }),
  cert: setting<string>({ flag: 'cert', kind: 'string', arg: '<file>', check: filePath, default: undefined, doc: 'PEM certificate chain for the TLS listeners' }),
  key: setting<string>({ flag: 'key', kind: 'string', arg: '<file>', check: filePath, default: undefined, doc: 'PEM private key for the TLS listeners' }),
  ca: setting<string>({ flag: 'ca', kind: 'string', arg: '<file>', check: filePath, default: undefined, doc: 'PEM CA bundle that client certificates are verified against' }),
  requireClientCert: setting({ flag: 'require-client-cert', kind: 'switch', check: boolean, default: false, doc: 'refuse TLS clients without a certificate signed by --ca' }),
  certCnAsUsername: setting({ flag: 'cert-cn-as-username', kind: 'switch', check: boolean, default: false, doc: 'log TLS clients with a verified certificate in as its CN, without a password' }),
  passwordFile: setting<string>({ flag: 'password-file', kind: 'string', arg: '<file>', check: filePath, default: undefined, doc: 'clients must log in as a user of this file (see "wren passwd")' }),
  aclFile: setting<string>({ flag: 'acl-file', kind: 'string', arg: '<file>', check: filePath, default: undefined, doc: 'Mosquitto ACL file (SIGHUP reads it and the password file again)' }),
  allowAnonymous: setting({ flag: 'allow-anonymous', kind: 'switch', check: boolean, default: false, doc: 'let clients without a user name in (needed to bind a public --host without auth)' }),
  trustClientUsernames: setting({ flag: 'trust-client-usernames', kind: 'switch', check: boolean, default: false, doc: 'allow --acl-file without --password-file: the user names clients send are believed' }),
  persistence: setting<PersistenceSpec, PersistenceSpec>({ flag: 'persistence', kind: 'string', arg: '<spec>', check: parsePersistence, default: { kind: 'memory' }, doc: 'memory (default) | sqlite:<file> | redis://host:port[/db]' }),
  cluster: setting<string>({ flag: 'cluster', kind: 'string', arg: '<url>', check: redisUrl, default: undefined, doc: 'join the cluster on this Redis (needs @wren/cluster-redis)' }),
  nodeId: setting<string>({ flag: 'node-id', kind: 'string', arg: '<id>', check: nonEmptyString, default: undefined, doc: "this node's id in the cluster (default generated)" }),
  workers: setting<number | 'auto'>({ flag: 'workers', kind: 'number', arg: '<n|auto>', check: workers, default: undefined, doc: 'fork n worker processes sharing the ports (auto = one per CPU); needs --cluster' }),
  bridgeFile: setting<string>({ flag: 'bridge-file', kind: 'string', arg: '<file>', check: filePath, default: undefined, doc: 'Mosquitto bridge blocks (connection <name>, address, topic ...): bridges to other brokers' }),
  bridges: setting<BridgeConfig[]>({ kind: 'string', check: bridgesSetting, default: undefined, doc: 'bridges as @wren/bridge options (config file only; see docs/bridge.md)' }),
  sysInterval: setting({ flag: 'sys-interval', kind: 'number', arg: '<s>', check: integer(0, 86_400), default: 10, doc: 'seconds between $SYS updates; 0 = off (default 10)', broker: 'sysInterval' }),
  maxConnections: brokerOption('maxConnections', 'max-connections', 'clients connected at once (default 1000000)'),
  maxPacketSize: brokerOption('maxPacketSize', 'max-packet-size', 'largest packet accepted from a client, in bytes (default 268435455)'),
  maxQueued: brokerOption('maxQueued', 'max-queued', 'QoS 1/2 messages held for one client, queued and in flight (default 1000)'),
  maxQueuedBytes: brokerOption('maxQueuedBytes', 'max-queued-bytes', "payload bytes an offline session's stored queue may hold; 0 = no cap (default 67108864)"),
  queueFullPolicy: brokerOption('queueFullPolicy', 'queue-full-policy', "which message goes when a client's queue is full (default drop-new)"),
  fullQueueAction: brokerOption('fullQueueAction', 'full-queue-action', "what a connected client's full queue does (default hold-publishers)"),
  maxInflight: brokerOption('maxInflight', 'max-inflight', 'QoS 1/2 messages in flight to one client (default 100)'),
  maxPublishRate: brokerOption('maxPublishRate', 'max-publish-rate', 'PUBLISH packets per second and client; 0 = no limit (default 0)'),
  maxSubscriptions: brokerOption('maxSubscriptionsPerClient', 'max-subscriptions', 'subscriptions one client may hold (default 10000)'),
  maxSubscriptionBytes: brokerOption('maxSubscriptionBytesPerClient', 'max-subscription-bytes', 'bytes of topic filters one client may hold; 0 = no cap (default 4194304)'),
  connectTimeout: brokerOption('connectTimeout', 'connect-timeout', 'milliseconds a new connection has to send CONNECT (default 10000)'),
  maxSocketBuffer: brokerOption('maxSocketBuffer', 'max-socket-buffer', "bytes buffered on a client's socket before it counts as slow (default 4194304)"),
  qos0HoldTime: brokerOption('qos0HoldTime', 'qos0-hold-time', 'milliseconds a congested client may hold QoS 0 publishers back (default 2000)'),
  drainTimeout: brokerOption('drainTimeout', 'drain-timeout', 'milliseconds a client that is behind may make no progress before it is cut (default 10000)'),
  maxTopicLength: brokerOption('maxTopicLength', 'max-topic-length', 'longest topic name or filter, in bytes (default 65535)'),
  maxTopicLevels: brokerOption('maxTopicLevels', 'max-topic-levels', 'most levels in a topic name or filter (default 128)'),
  maxClientIdLength: brokerOption('maxClientIdLength', 'max-client-id-length', 'longest client id accepted, 23 or more (default 65535)'),
  maxQos: brokerOption('maxQos', 'max-qos', 'highest QoS granted and accepted (default 2)'),
  retainAvailable: brokerOption('retainAvailable', 'retain-available', 'whether retained messages are kept (default true)'),
  maxKeepalive: brokerOption('maxKeepalive', 'max-keepalive', "MQTT 5: cap on a client's keepalive, in seconds; 0 = none (default 0)"),
  receiveMaximum: brokerOption('receiveMaximum', 'receive-maximum', 'MQTT 5: QoS 1/2 publishes a client may have unacknowledged (default 65535)'),
  topicAliasMaximum: brokerOption('topicAliasMaximum', 'topic-alias-maximum', 'MQTT 5: topic aliases a client may use; 0 = none (default 65535)'),
  maxSessionExpiryInterval: brokerOption('maxSessionExpiryInterval', 'max-session-expiry', 'MQTT 5: cap on session expiry, in seconds (default 4294967295)'),
  responseInformation: brokerOption('responseInformation', 'response-information', 'MQTT 5: Response Information for clients that ask (default none)'),
  serverReference: brokerOption('serverReference', 'server-reference', 'MQTT 5: another server for clients to use, sent when shutting down (default none)'),
  maxConnectPacketSize: brokerOption('maxConnectPacketSize', 'max-connect-packet-size', 'largest packet before CONNECT is accepted, in bytes (default 65536)'),
  maxUserProperties: brokerOption('maxUserProperties', 'max-user-properties', 'MQTT 5: User Properties accepted in one packet (default 1024)'),
  reasonStrings: brokerOption('reasonStrings', 'reason-strings', 'MQTT 5: whether acks and refusals carry a Reason String (default true)'),
  maxTopicAliasBytes: brokerOption('maxTopicAliasBytes', 'max-topic-alias-bytes', "MQTT 5: bytes of topic names one connection's aliases may hold (default 1048576)"),
  maxRetainedMessages: brokerOption('maxRetainedMessages', 'max-retained-messages', 'retained messages kept in all; 0 = no cap (default 0)'),
  maxRetainedBytes: brokerOption('maxRetainedBytes', 'max-retained-bytes', 'payload bytes of all retained messages; 0 = no cap (default 0)'),
  maxSessions: brokerOption('maxSessions', 'max-sessions', 'stored sessions; a CONNECT that would store one more is refused; 0 = no cap (default 0)'),
  mqttsnPort: setting<number>({ flag: 'mqttsn-port', kind: 'number', arg: '<n>', check: integer(0, 65535), default: undefined, doc: 'MQTT-SN 1.2 gateway on this UDP port (default off; 0 = any free port)' }),
  mqttsn: setting<MqttSnConfig>({ kind: 'string', check: parseMqttSnConfig, default: undefined, doc: 'the MQTT-SN gateway: port, host, gatewayId, predefined, qosMinus1, advertise, username, password, clients (config file only; see docs/mqtt-sn.md)' }),
  lwm2mPort: setting<number>({ flag: 'lwm2m-port', kind: 'number', arg: '<n>', check: integer(0, 65535), default: undefined, doc: 'LwM2M 1.0 gateway (CoAP) on this UDP port (default off; 0 = any free port)' }),
  lwm2m: setting<Lwm2mConfig>({ kind: 'string', check: parseLwm2mConfig, default: undefined, doc: 'the LwM2M gateway: port, host, mountpoint, lifetimeMin, lifetimeMax, qmodeTimeWindow, autoObserve, objects, endpoints (config file only; see docs/lwm2m.md)' }),
  logLevel: setting<LogLevel, LogLevel>({ flag: 'log-level', kind: 'string', arg: '<level>', check: oneOf(LOG_LEVELS), default: 'info', doc: 'fatal | error | warn | info | debug | trace | silent (default info)' }),
  logFormat: setting<LogFormat, LogFormat>({ flag: 'log-format', kind: 'string', arg: '<format>', check: oneOf(LOG_FORMATS), default: 'json', doc: 'json (default) | pretty' }),
  adminPort: setting({ flag: 'admin-port', kind: 'number', arg: '<n>', check: port, default: -1, doc: 'HTTP port of /metrics (Prometheus), the admin API and the dashboard (default off; 0 = any free port)' }),
  adminHost: setting({ flag: 'admin-host', kind: 'string', arg: '<addr>', check: nonEmptyString, default: '127.0.0.1', doc: 'address of the admin port (default 127.0.0.1; others need --admin-token)' }),
  adminToken: setting<string>({ flag: 'admin-token', kind: 'string', arg: '<token>', check: nonEmptyString, default: undefined, doc: 'bearer token the admin port requires' }),
  shutdownTimeout: setting({ flag: 'shutdown-timeout', kind: 'number', arg: '<ms>', check: integer(0, 3_600_000), default: 10_000, doc: 'how long a shutdown may take before exiting with an error (default 10000)' }),
}

type Settings = typeof SETTINGS
type ValueOf<S> = S extends Setting<infer T, infer D> ? (undefined extends D ? T | undefined : T) : never

/** The server's whole configuration: one key per setting. */
export type ServerConfig = { [K in keyof Settings]: ValueOf<Settings[K]> }

export type SettingName = keyof Settings

export const SETTING_NAMES = Object.keys(SETTINGS) as SettingName[]

export const DEFAULT_CONFIG = Object.fromEntries(
  SETTING_NAMES.map((name) => [name, SETTINGS[name].default]),
) as ServerConfig

/** The `createBroker` options the config sets; those left undefined keep the broker's defaults. */
export function brokerOptions(config: ServerConfig): BrokerOptions {
  const options: Record<string, unknown> = {}
  for (const name of SETTING_NAMES) {
    const { broker } = SETTINGS[name] as Setting<unknown, unknown>
    if (broker !== undefined && config[name] !== undefined) options[broker] = config[name]
  }
  return options as BrokerOptions
}
