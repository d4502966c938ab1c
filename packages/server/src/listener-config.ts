import { boolean, describe, filePath, integer, nonEmptyString, oneOf, wsPath, type Check } from './checks.js'
import { ConfigError } from './config-error.js'
import { LISTENER_PROTOCOLS, type ListenerProtocol } from './listeners/open-listeners.js'

/** One entry of `listeners`, as Mosquitto's `listener` blocks: what the single-listener keys cannot say. */
export interface ListenerConfig {
  protocol: ListenerProtocol
  /** Default: the top-level `host`. */
  host?: string
  /** 0 picks a free port. */
  port: number
  /** ws and wss: default the top-level `wsPath`. */
  path?: string
  /** mqtts and wss: default the top-level `cert`, `key`, `ca` and `requireClientCert`. */
  cert?: string
  key?: string
  ca?: string
  requireClientCert?: boolean
  /** Connections this listener holds at once; more are closed as they arrive. */
  maxConnections?: number
  /** Its clients log in against this file and are judged by this ACL instead of the top-level ones. */
  passwordFile?: string
  aclFile?: string
}

const ENTRY_CHECKS: { [K in keyof ListenerConfig]-?: Check<ListenerConfig[K]> } = {
  protocol: oneOf(LISTENER_PROTOCOLS),
  host: nonEmptyString,
  port: integer(0, 65535),
  path: wsPath,
  cert: filePath,
  key: filePath,
  ca: filePath,
  requireClientCert: boolean,
  maxConnections: integer(1, Number.MAX_SAFE_INTEGER),
  passwordFile: filePath,
  aclFile: filePath,
}

function listenerEntry(value: unknown, label: string, baseDir: string): ListenerConfig {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(`${label} must be an object like {"protocol": "mqtt", "port": 1883}, got ${describe(value)}`)
  }
  const entry: Partial<Record<keyof ListenerConfig, unknown>> = {}
  for (const [key, field] of Object.entries(value)) {
    if (!(key in ENTRY_CHECKS)) {
      throw new ConfigError(`${label}.${key} is not a listener setting (known: ${Object.keys(ENTRY_CHECKS).join(', ')})`)
    }
    if (field !== undefined) entry[key as keyof ListenerConfig] = (ENTRY_CHECKS[key as keyof ListenerConfig] as Check<unknown>)(field, `${label}.${key}`, baseDir)
  }
  for (const key of ['protocol', 'port'] as const) {
    if (entry[key] === undefined) throw new ConfigError(`${label} needs "${key}"`)
  }
  return entry as unknown as ListenerConfig
}

/** How the entry at `index` is named in messages, and in `client.meta.listener` for the hooks. */
export const listenerName = (index: number): string => `listeners[${index}]`

/** `listeners`: an array of listener entries. */
export function listenerConfigs(value: unknown, label: string, baseDir: string): ListenerConfig[] {
  if (!Array.isArray(value)) throw new ConfigError(`${label} must be an array of listeners, got ${describe(value)}`)
  return value.map((entry, index) => listenerEntry(entry, `${label}[${index}]`, baseDir))
}
