import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import type { BridgeOptions } from '@wren/bridge'
import { bridgesSetting } from './bridges.js'

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

export type PersistenceSpec =
  | { kind: 'memory' }
  | { kind: 'sqlite'; path: string }
  | { kind: 'redis'; url: string }

export interface ServerConfig {
  /**
   * Address every listener binds to. Unset: 0.0.0.0 with authentication or `allowAnonymous`, loopback only
   * otherwise (with a warning).
   */
  host: string | undefined
  /** MQTT over TCP; 0 picks a free port, -1 turns the listener off. */
  port: number
  /** MQTT over WebSocket; 0 picks a free port, -1 turns the listener off. */
  wsPort: number
  /** MQTT over TLS (`mqtts://`); -1 turns the listener off. Needs `cert` and `key`. */
  tlsPort: number
  /** MQTT over secure WebSocket (`wss://`, same path as `wsPath`); -1 turns it off. Needs `cert` and `key`. */
  wssPort: number
  /** HTTP path the WebSocket listeners upgrade on. */
  wsPath: string
  /** Browser origins allowed on the WebSocket listeners (e.g. `https://app.example`); undefined = any. */
  wsOrigins: string[] | undefined
  /** PEM certificate chain of the TLS listeners. */
  cert: string | undefined
  /** PEM private key of the TLS listeners. */
  key: string | undefined
  /** PEM CA bundle that TLS client certificates are verified against; a client may present one. */
  ca: string | undefined
  /** TLS clients without a certificate signed by `ca` are refused during the handshake. Needs `ca`. */
  requireClientCert: boolean
  /** A TLS client with a verified certificate is logged in as its subject CN, without a password. Needs `ca`. */
  certCnAsUsername: boolean
  /** Password file (`wren passwd`'s format): clients must log in as a user listed there. */
  passwordFile: string | undefined
  /** Mosquitto ACL file: clients may only publish, subscribe and receive what it grants. */
  aclFile: string | undefined
  /** Clients without a user name may connect on a public address (with a password file: may connect at all). */
  allowAnonymous: boolean
  /** Lets `aclFile` go without authentication: the user names clients send are believed as they are. */
  trustClientUsernames: boolean
  persistence: PersistenceSpec
  /**
   * Redis URL of a cluster to join (`@wren/cluster-redis`). Needs Redis persistence: without a `persistence`
   * setting it defaults to this URL, and any other store is refused.
   */
  cluster: string | undefined
  /** This node's id in the cluster (the broker id); in workers mode each worker adds `-<n>`. Default: generated. */
  nodeId: string | undefined
  /** Forks this many worker processes sharing the listeners (node:cluster); `auto` = one per CPU. Needs `cluster`. */
  workers: number | 'auto' | undefined
  /** Seconds between `$SYS` updates; 0 turns them off. */
  sysInterval: number
  /** Undefined keeps the broker's own default. */
  maxConnections: number | undefined
  /** Undefined keeps the broker's own default. */
  maxPacketSize: number | undefined
  /** QoS 1/2 messages held for one client, queued and in flight; undefined keeps the broker's default. */
  maxQueued: number | undefined
  /** QoS 1/2 messages in flight to one client; undefined keeps the broker's default. */
  maxInflight: number | undefined
  /** PUBLISH packets per second and client; 0 = no limit; undefined keeps the broker's default. */
  maxPublishRate: number | undefined
  /** Milliseconds a new connection may take to send CONNECT; undefined keeps the broker's default. */
  connectTimeout: number | undefined
  /** Subscriptions one client may hold (the broker's `maxSubscriptionsPerClient`). */
  maxSubscriptions: number | undefined
  /** Bridges to other brokers (`@wren/bridge` options); see docs/bridge.md. */
  bridges: BridgeOptions[] | undefined
  /** A file of Mosquitto bridge blocks (`connection <name>` ...), read at start. */
  bridgeFile: string | undefined
  logLevel: LogLevel
  /** Milliseconds a shutdown may take before the process gives up and exits with an error. */
  shutdownTimeout: number
}

export const DEFAULT_CONFIG: ServerConfig = {
  host: undefined,
  port: 1883,
  wsPort: 8083,
  tlsPort: -1,
  wssPort: -1,
  wsPath: '/mqtt',
  wsOrigins: undefined,
  cert: undefined,
  key: undefined,
  ca: undefined,
  requireClientCert: false,
  certCnAsUsername: false,
  passwordFile: undefined,
  aclFile: undefined,
  allowAnonymous: false,
  trustClientUsernames: false,
  persistence: { kind: 'memory' },
  cluster: undefined,
  nodeId: undefined,
  workers: undefined,
  sysInterval: 10,
  maxConnections: undefined,
  maxPacketSize: undefined,
  maxQueued: undefined,
  maxInflight: undefined,
  maxPublishRate: undefined,
  connectTimeout: undefined,
  maxSubscriptions: undefined,
  bridges: undefined,
  bridgeFile: undefined,
  logLevel: 'info',
  shutdownTimeout: 10_000,
}

/** A configuration problem the user must fix: the CLI prints the message alone, without a stack. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
const MAX_PACKET_SIZE = 268_435_455

type Check<T> = (value: unknown, label: string, baseDir: string) => T

const describe = (value: unknown): string => (typeof value === 'string' ? `"${value}"` : JSON.stringify(value))

function integer(min: number, max: number): Check<number> {
  return (value, label) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(`${label} must be an integer from ${min} to ${max}, got ${describe(value)}`)
    }
    return value
  }
}

const port = integer(-1, 65535)

function nonEmptyString(value: unknown, label: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new ConfigError(`${label} must be a non-empty string, got ${describe(value)}`)
  }
  return value
}

function wsPath(value: unknown, label: string): string {
  const path = nonEmptyString(value, label)
  if (!path.startsWith('/')) throw new ConfigError(`${label} must start with "/", got ${describe(value)}`)
  return path
}

/** A file named in the config: a relative path is taken from `baseDir`. */
function filePath(value: unknown, label: string, baseDir: string): string {
  return resolve(baseDir, nonEmptyString(value, label))
}

function boolean(value: unknown, label: string): boolean {
  if (typeof value !== 'boolean') throw new ConfigError(`${label} must be true or false, got ${describe(value)}`)
  return value
}

function logLevel(value: unknown, label: string): LogLevel {
  if (!LOG_LEVELS.includes(value as LogLevel)) {
    throw new ConfigError(`${label} must be one of ${LOG_LEVELS.join(', ')}, got ${describe(value)}`)
  }
  return value as LogLevel
}

/** An already parsed spec, as in a `ServerConfig` handed back to `startServer`. */
function isPersistenceSpec(value: unknown): value is PersistenceSpec {
  if (value === null || typeof value !== 'object') return false
  const spec = value as Record<string, unknown>
  return (
    spec.kind === 'memory' ||
    (spec.kind === 'sqlite' && typeof spec.path === 'string') ||
    (spec.kind === 'redis' && typeof spec.url === 'string')
  )
}

function redisUrl(value: unknown, label: string): string {
  const url = nonEmptyString(value, label)
  if (!url.startsWith('redis://') && !url.startsWith('rediss://')) {
    throw new ConfigError(`${label} must be a redis URL (redis://host:port[/db]), got ${describe(url)}`)
  }
  try {
    new URL(url)
  } catch {
    throw new ConfigError(`${label}: ${describe(url)} is not a valid redis URL`)
  }
  return url
}

const MAX_WORKERS = 1024

function workers(value: unknown, label: string): number | 'auto' {
  if (value === 'auto') return value
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_WORKERS) {
    throw new ConfigError(`${label} must be "auto" or an integer from 1 to ${MAX_WORKERS}, got ${describe(value)}`)
  }
  return value
}

/** `memory`, `sqlite:<file>` or `redis://host:port[/db]`; a relative SQLite path is taken from `baseDir`. */
export function parsePersistence(value: unknown, label: string, baseDir: string): PersistenceSpec {
  if (isPersistenceSpec(value)) return value
  const spec = nonEmptyString(value, label)
  if (spec === 'memory') return { kind: 'memory' }
  if (spec.startsWith('sqlite:')) {
    const file = spec.slice('sqlite:'.length)
    if (file.length === 0) throw new ConfigError(`${label}: "sqlite:" needs a file, e.g. sqlite:./wren.db`)
    return { kind: 'sqlite', path: resolve(baseDir, file) }
  }
  if (spec.startsWith('redis://') || spec.startsWith('rediss://')) return { kind: 'redis', url: redisUrl(spec, label) }
  throw new ConfigError(
    `${label} must be "memory", "sqlite:<file>" or "redis://host:port[/db]", got ${describe(spec)}`,
  )
}

/** A list of origins: a JSON array, or one comma-separated string (as a flag gives it). */
const origins: Check<string[]> = (value, label) => {
  const list = typeof value === 'string' ? value.split(',').map((origin) => origin.trim()) : value
  if (!Array.isArray(list) || list.length === 0 || !list.every((origin) => typeof origin === 'string' && origin.length > 0)) {
    throw new ConfigError(`${label} must be a list of origins such as https://app.example, got ${describe(value)}`)
  }
  return list as string[]
}

const CHECKS: { [K in keyof ServerConfig]: Check<ServerConfig[K]> } = {
  host: nonEmptyString,
  port,
  wsPort: port,
  tlsPort: port,
  wssPort: port,
  wsPath,
  wsOrigins: origins,
  cert: filePath,
  key: filePath,
  ca: filePath,
  requireClientCert: boolean,
  certCnAsUsername: boolean,
  passwordFile: filePath,
  aclFile: filePath,
  allowAnonymous: boolean,
  trustClientUsernames: boolean,
  persistence: parsePersistence,
  cluster: redisUrl,
  nodeId: nonEmptyString,
  workers,
  sysInterval: integer(0, 86_400),
  maxConnections: integer(1, Number.MAX_SAFE_INTEGER),
  maxPacketSize: integer(2, MAX_PACKET_SIZE),
  maxQueued: integer(1, Number.MAX_SAFE_INTEGER),
  maxInflight: integer(1, 65_535),
  maxPublishRate: integer(0, Number.MAX_SAFE_INTEGER),
  connectTimeout: integer(1, 3_600_000),
  maxSubscriptions: integer(1, Number.MAX_SAFE_INTEGER),
  bridges: bridgesSetting,
  bridgeFile: filePath,
  logLevel,
  shutdownTimeout: integer(0, 3_600_000),
}

export const CONFIG_KEYS = Object.keys(CHECKS) as Array<keyof ServerConfig>

/**
 * Checks a partial configuration, naming each problem after where it came from:
 * `labelFor('port')` is e.g. `--port` for a flag or `"port" in wren.json` for a file.
 */
export function validatePartialConfig(
  raw: Record<string, unknown>,
  labelFor: (key: string) => string,
  baseDir: string,
): Partial<ServerConfig> {
  const result: Partial<Record<keyof ServerConfig, unknown>> = {}
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined) continue
    if (!(key in CHECKS)) {
      throw new ConfigError(`${labelFor(key)} is not a known setting (known: ${CONFIG_KEYS.join(', ')})`)
    }
    const check = CHECKS[key as keyof ServerConfig] as Check<unknown>
    result[key as keyof ServerConfig] = check(value, labelFor(key), baseDir)
  }
  return result as Partial<ServerConfig>
}

/** Reads a JSON configuration file: an object whose keys are those of `ServerConfig`. */
export async function readConfigFile(file: string): Promise<Partial<ServerConfig>> {
  const path = resolve(file)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message
    throw new ConfigError(`cannot read config file ${path}: ${reason}`)
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (error) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(error as Error).message}`)
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`config file ${path} must hold a JSON object, got ${describe(raw)}`)
  }
  return validatePartialConfig(raw as Record<string, unknown>, (key) => `"${key}" in ${path}`, dirname(path))
}

/** Rules that span keys, checked once every source is merged. */
function checkListeners(config: ServerConfig): void {
  const ports = [config.port, config.wsPort, config.tlsPort, config.wssPort]
  if (ports.every((port) => port < 0)) {
    throw new ConfigError(
      'every listener is off (port, wsPort, tlsPort and wssPort are all -1): nothing would accept clients',
    )
  }
  const secure = config.tlsPort >= 0 || config.wssPort >= 0
  if (secure && (config.cert === undefined || config.key === undefined)) {
    throw new ConfigError('tlsPort and wssPort need cert and key (PEM files)')
  }
  for (const key of ['requireClientCert', 'certCnAsUsername'] as const) {
    if (config[key] && config.ca === undefined) {
      throw new ConfigError(`${key} needs ca: the CA bundle that client certificates are verified against`)
    }
  }
}

/**
 * Nodes of a cluster must see one another's sessions, queues and retained messages, so a cluster stores them
 * in Redis: the cluster's own URL unless `persistence` names another Redis. Workers are only useful as cluster
 * nodes: without one, clients that the kernel hands to different workers would not see each other's messages.
 */
function checkCluster(config: ServerConfig, persistenceGiven: boolean): ServerConfig {
  if (config.workers !== undefined && config.cluster === undefined) {
    throw new ConfigError(
      'workers need cluster (e.g. --cluster redis://127.0.0.1:6379): without it, clients on different workers would not see each other',
    )
  }
  if (config.nodeId !== undefined && config.cluster === undefined) {
    throw new ConfigError('nodeId is a cluster setting: it needs cluster')
  }
  if (config.cluster === undefined) return config
  if (!persistenceGiven) return { ...config, persistence: { kind: 'redis', url: config.cluster } }
  if (config.persistence.kind !== 'redis') {
    throw new ConfigError(
      `cluster needs Redis persistence shared by every node (redis://...), got ${config.persistence.kind}: leave persistence out to use the cluster's Redis`,
    )
  }
  return config
}

/** Defaults, then the file, then the flags: the later source wins key by key. */
export function mergeConfig(...sources: Array<Partial<ServerConfig>>): ServerConfig {
  const merged: ServerConfig = { ...DEFAULT_CONFIG }
  for (const source of sources) {
    for (const key of CONFIG_KEYS) {
      if (source[key] !== undefined) Object.assign(merged, { [key]: source[key] })
    }
  }
  checkListeners(merged)
  return checkCluster(merged, sources.some((source) => source.persistence !== undefined))
}
