import { resolve } from 'node:path'
import { Bridge, BridgeFileError, readBridgeFile, resolveBridgeOptions, type BridgeOptions, type BridgeTls } from '@wren/bridge'
import type { Broker } from '@wren/core'
import type { Logger } from 'pino'
import { ConfigError, type ServerConfig } from './config.js'

const TLS_FILES = ['cafile', 'capath', 'certfile', 'keyfile'] as const

/** Certificate paths of a bridge in a config file are taken from the file's directory, as the server's own. */
function withBaseDir(options: BridgeOptions, baseDir: string): BridgeOptions {
  if (!options.tls) return options
  const tls: BridgeTls = { ...options.tls }
  for (const key of TLS_FILES) if (typeof tls[key] === 'string') tls[key] = resolve(baseDir, tls[key])
  return { ...options, tls }
}

/** The `bridges` config key: an array of `@wren/bridge` options, each checked now so a typo stops the start. */
export function bridgesSetting(value: unknown, label: string, baseDir: string): BridgeOptions[] {
  if (!Array.isArray(value)) throw new ConfigError(`${label} must be an array of bridges, got ${JSON.stringify(value)}`)
  return value.map((entry: unknown, index) => {
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      throw new ConfigError(`${label}[${index}] must be an object (name, addresses, topics, ...), got ${JSON.stringify(entry)}`)
    }
    const options = withBaseDir(entry as BridgeOptions, baseDir)
    try {
      resolveBridgeOptions(options)
    } catch (error) {
      throw new ConfigError(`${label}[${index}]: ${(error as Error).message}`)
    }
    return options
  })
}

/**
 * Without a lease, every process that starts a bridge runs it: workers would each connect to the remote with
 * the same client id and take the link over from one another.
 */
export function checkBridges(config: ServerConfig): void {
  const configured = (config.bridges?.length ?? 0) > 0 || config.bridgeFile !== undefined
  if (configured && config.workers !== undefined) {
    throw new ConfigError('bridges cannot run in workers mode yet (each worker would run every bridge): run them on a node without workers')
  }
}

/** The bridges of the config: the `bridges` key, then the connections of `bridgeFile` (Mosquitto syntax). */
export async function loadBridges(config: ServerConfig): Promise<BridgeOptions[]> {
  const all = [...(config.bridges ?? [])]
  if (config.bridgeFile !== undefined) {
    try {
      all.push(...(await readBridgeFile(config.bridgeFile)))
    } catch (error) {
      if (error instanceof BridgeFileError) throw new ConfigError(error.message)
      throw error
    }
  }
  const names = new Set<string>()
  for (const { name } of all) {
    if (names.has(name)) throw new ConfigError(`two bridges are named ${name} (bridges and bridgeFile together)`)
    names.add(name)
  }
  return all
}

/** Starts each bridge on the broker, logging its state changes; its `$SYS` updates follow the broker's by default. */
export function startBridges(broker: Broker, all: BridgeOptions[], sysInterval: number, logger: Logger): Bridge[] {
  return all.map((options) => {
    const bridge = new Bridge(broker, { sysInterval, ...options })
    const log = logger.child({ bridge: bridge.name })
    bridge.on('connected', (address, bridgeBit) => log.info({ address: `${address.host}:${address.port}`, bridgeBit }, 'bridge connected'))
    bridge.on('disconnected', (reason, delayMs) => log.warn({ reason, retryInMs: delayMs === undefined ? null : Math.round(delayMs) }, 'bridge disconnected'))
    bridge.start().catch((error: unknown) => log.error({ err: error }, 'bridge could not start'))
    return bridge
  })
}

/** Says '0' on each notification topic and disconnects, before the broker closes. */
export async function stopBridges(bridges: Bridge[]): Promise<void> {
  await Promise.all(bridges.map((bridge) => bridge.stop()))
}
