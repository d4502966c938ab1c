import type { Bridge, BridgeLease, BridgeOptions, ResolvedBridgeOptions } from '@wren/bridge'
import type { Broker } from '@wren/core'
import type { Logger } from 'pino'
import { ConfigError } from './config-error.js'
import type { ServerConfig } from './settings.js'
import { loadFactory } from './optional-package.js'

interface BridgePackage {
  resolveBridgeOptions(options: BridgeOptions): ResolvedBridgeOptions
  readBridgeFile(file: string): Promise<BridgeOptions[]>
  createBridge(broker: Broker, options: BridgeOptions): Bridge
}

/** The optional `@wren/bridge`, loaded only when the config has bridges. */
async function bridgePackage(): Promise<BridgePackage> {
  const purpose = 'bridges (bridges, --bridge-file)'
  return {
    resolveBridgeOptions: await loadFactory<BridgePackage['resolveBridgeOptions']>('@wren/bridge', 'resolveBridgeOptions', purpose),
    readBridgeFile: await loadFactory<BridgePackage['readBridgeFile']>('@wren/bridge', 'readBridgeFile', purpose),
    createBridge: await loadFactory<BridgePackage['createBridge']>('@wren/bridge', 'createBridge', purpose),
  }
}

/** The bridges of the config, checked: the `bridges` key, then the connections of `bridgeFile` (Mosquitto syntax). */
export interface PlannedBridges {
  options: BridgeOptions[]
  create?: BridgePackage['createBridge']
}

export async function loadBridges(config: ServerConfig): Promise<PlannedBridges> {
  if ((config.bridges?.length ?? 0) === 0 && config.bridgeFile === undefined) return { options: [] }
  const pkg = await bridgePackage()
  // JSON until checked here by the bridge package itself
  const all = (config.bridges ?? []).map((entry, index) => {
    const options = entry as unknown as BridgeOptions
    try {
      pkg.resolveBridgeOptions(options)
    } catch (error) {
      throw new ConfigError(`bridges[${index}]: ${(error as Error).message}`)
    }
    return options
  })
  if (config.bridgeFile !== undefined) {
    try {
      all.push(...(await pkg.readBridgeFile(config.bridgeFile)))
    } catch (error) {
      // BridgeFileError: <file>:<line>: <reason>
      if ((error as Error).name === 'BridgeFileError') throw new ConfigError((error as Error).message)
      throw error
    }
  }
  const names = new Set<string>()
  for (const { name } of all) {
    if (names.has(name)) throw new ConfigError(`two bridges are named ${name} (bridges and bridgeFile together)`)
    names.add(name)
  }
  return { options: all, create: pkg.createBridge }
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
export async function startBridges(broker: Broker, planned: PlannedBridges, config: ServerConfig, logger: Logger): Promise<RunningBridges> {
  const { options: all, create } = planned
  if (all.length === 0 || create === undefined) return { stop: () => Promise.resolve() }
  let lease: Lease | undefined
  if (config.cluster !== undefined) {
    const createLease = await loadFactory<LeaseFactory>('@wren/cluster-redis', 'createRedisBridgeLease', `bridges in cluster "${config.cluster}"`)
    lease = createLease({ url: config.cluster, nodeId: broker.id })
  }
  const bridges = all.map((options) => {
    const bridge = create(broker, { sysInterval: config.sysInterval, ...options, ...(lease ? { lease } : {}) })
    const log = logger.child({ bridge: bridge.name })
    bridge.on('connected', (address, bridgeBit) => log.info({ address: `${address.host}:${address.port}`, bridgeBit }, 'bridge connected'))
    bridge.on('disconnected', (reason, delayMs) => log.warn({ reason, retryInMs: delayMs === undefined ? null : Math.round(delayMs) }, 'bridge disconnected'))
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
