import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { describe, type Check } from './checks.js'
import { ConfigError } from './config-error.js'
import { DEFAULT_CONFIG, SETTINGS, SETTING_NAMES, type ServerConfig } from './settings.js'

export { ConfigError } from './config-error.js'
export { DEFAULT_CONFIG, type LogFormat, type LogLevel, type ServerConfig } from './settings.js'
export type { PersistenceSpec } from './persistence-spec.js'
export type { ListenerConfig } from './listener-config.js'

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
    if (!(key in SETTINGS)) {
      throw new ConfigError(`${labelFor(key)} is not a known setting (known: ${SETTING_NAMES.join(', ')})`)
    }
    const check = SETTINGS[key as keyof ServerConfig].check as Check<unknown>
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

const SHORTCUT_PORTS = ['port', 'wsPort', 'tlsPort', 'wssPort'] as const

/** Rules that span keys, checked once every source is merged. */
function checkListeners(config: ServerConfig): void {
  if (SHORTCUT_PORTS.every((key) => config[key] < 0) && config.listeners.length === 0) {
    throw new ConfigError(
      'every listener is off (port, wsPort, tlsPort and wssPort are all -1, and no listeners): nothing would accept clients',
    )
  }
  const secure = config.tlsPort >= 0 || config.wssPort >= 0
  if (secure && (config.cert === undefined || config.key === undefined)) {
    throw new ConfigError('tlsPort and wssPort need cert and key (PEM files)')
  }
  config.listeners.forEach((listener, index) => {
    const secure = listener.protocol === 'mqtts' || listener.protocol === 'wss'
    if (secure && ((listener.cert ?? config.cert) === undefined || (listener.key ?? config.key) === undefined)) {
      throw new ConfigError(`listeners[${index}] (${listener.protocol}) needs cert and key, its own or the top-level ones`)
    }
    if (listener.requireClientCert && (listener.ca ?? config.ca) === undefined) {
      throw new ConfigError(`listeners[${index}].requireClientCert needs ca, its own or the top-level one`)
    }
  })
  const hasCa = config.ca !== undefined || config.listeners.some((listener) => listener.ca !== undefined)
  for (const key of ['requireClientCert', 'certCnAsUsername'] as const) {
    if (config[key] && !hasCa) {
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

/**
 * Defaults, then the file, then the flags: the later source wins key by key. With `listeners`, the
 * single-listener ports are off unless a source sets them: the list says which listeners there are.
 */
export function mergeConfig(...sources: Array<Partial<ServerConfig>>): ServerConfig {
  const merged: ServerConfig = { ...DEFAULT_CONFIG }
  const given = new Set<keyof ServerConfig>()
  for (const source of sources) {
    for (const key of SETTING_NAMES) {
      if (source[key] === undefined) continue
      Object.assign(merged, { [key]: source[key] })
      given.add(key)
    }
  }
  if (merged.listeners.length > 0) {
    for (const key of SHORTCUT_PORTS) if (!given.has(key)) merged[key] = -1
  }
  checkListeners(merged)
  return checkCluster(merged, given.has('persistence'))
}
