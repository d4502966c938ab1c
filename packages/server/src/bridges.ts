import { resolve } from 'node:path'
import { Bridge, BridgeFileError, readBridgeFile, resolveBridgeOptions, type BridgeLease, type BridgeOptions, type BridgeTls } from '@wren/bridge'
import type { Broker } from '@wren/core'
import type { Logger } from 'pino'
import { ConfigError, type ServerConfig } from './config.js'
import { loadFactory } from './optional-package.js'

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

type Lease = BridgeLease & { close(): Promise<void> }
type LeaseFactory = (options: { url: string; nodeId: string }) => Lease

/** The bridges running on this server; `stop()` ends them before the broker closes. */
export interface RunningBridges {
  stop(): Promise<void>
}

/**
 * Starts each bridge on the broker, logging its state changes; its `$SYS` updates follow the broker's by default.
 * In a cluster (and in workers mode) every node has the same bridges: each runs on the node holding its lease
 * in the cluster's Redis, and moves to another node when that one dies.
 */
export async function startBridges(broker: Broker, all: BridgeOptions[], config: ServerConfig, logger: Logger): Promise<RunningBridges> {
  let lease: Lease | undefined
  if (all.length > 0 && config.cluster !== undefined) {
    const create = await loadFactory<LeaseFactory>('@wren/cluster-redis', 'createRedisBridgeLease', `bridges in cluster "${config.cluster}"`)
    lease = create({ url: config.cluster, nodeId: broker.id })
  }
  const bridges = all.map((options) => {
    const bridge = new Bridge(broker, { sysInterval: config.sysInterval, ...options, ...(lease ? { lease } : {}) })
    const log = logger.child({ bridge: bridge.name })
    bridge.on('connected', (address, bridgeBit) => log.info({ address: `${address.host}:${address.port}`, bridgeBit }, 'bridge connected'))
    bridge.on('disconnected', (reason, delayMs) => log.warn({ reason, retryInMs: delayMs === undefined ? null : Math.round(delayMs) }, 'bridge disconnected'))
    bridge.start().catch((error: unknown) => log.error({ err: error }, 'bridge could not start'))
    return bridge
  })
  return {
    // Each says '0' on its notification topic and disconnects, and gives its lease up for another node.
    async stop() {
      await Promise.all(bridges.map((bridge) => bridge.stop()))
      await lease?.close()
    },
  }
}
