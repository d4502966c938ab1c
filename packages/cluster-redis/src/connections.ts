import { Cluster, type ClusterNode, type ClusterOptions, Redis, type RedisOptions } from 'ioredis'
import type { Logger } from '@wren/core'
import { ANNOUNCE, CLAIM, DISOWN, HEARTBEAT, LEAVE, REAP } from './scripts.js'

export type Connection = Redis | Cluster
export type ScriptCall = (...args: Array<string | number | Buffer>) => Promise<unknown>

const SCRIPTS = { wrenAnnounce: [1, ANNOUNCE], wrenClaim: [3, CLAIM], wrenDisown: [3, DISOWN], wrenHeartbeat: [3, HEARTBEAT], wrenReap: [4, REAP], wrenLeave: [6, LEAVE] } as const
export type ScriptName = keyof typeof SCRIPTS

export interface ConnectionOptions {
  url?: string
  redis?: RedisOptions
  redisCluster?: { nodes: ClusterNode[]; options?: ClusterOptions }
}

/**
 * A node's two Redis connections: `command` publishes and runs the scripts, `subscriber` is in pub/sub mode on the
 * node's own channel and the broadcast channel.
 */
export class BusConnections {
  readonly command: Connection
  readonly subscriber: Connection
  /** PUBLISH's receiver count is exact on one server; on Redis Cluster it counts one shard's subscribers only. */
  readonly exactReceivers: boolean

  constructor(options: ConnectionOptions, nodeId: string, logger: Logger) {
    const connect = (extra: RedisOptions): Connection => {
      if (options.redisCluster) return new Cluster(options.redisCluster.nodes, { ...extra, ...options.redisCluster.options })
      const redisOptions = { ...extra, ...options.redis }
      return options.url ? new Redis(options.url, redisOptions) : new Redis(redisOptions)
    }
    this.exactReceivers = !options.redisCluster
    // Scripts issued in one tick share one socket write (in order). PUBLISH is written at once: `Forwarding` already
    // batches forwards per PUBLISH, and an auto-pipeline per PUBLISH (a Pipeline object, a timer, a promise per
    // command) cost more than the write it saved. The subscriber connection stays plain.
    this.command = connect({ enableAutoPipelining: true, autoPipeliningIgnoredCommands: ['publish'] })
    this.subscriber = connect({})
    for (const [name, connection] of [['command', this.command], ['subscriber', this.subscriber]] as const) {
      connection.on('error', (error: Error) => logger.warn({ err: error, connection: name, nodeId }, 'cluster redis connection error'))
    }
    for (const [name, [numberOfKeys, lua]] of Object.entries(SCRIPTS)) this.command.defineCommand(name, { numberOfKeys, lua })
  }

  script(name: ScriptName): ScriptCall {
    const call = (this.command as unknown as Record<ScriptName, ScriptCall>)[name]
    return call.bind(this.command)
  }

  async close(): Promise<void> {
    await Promise.all([close(this.subscriber), close(this.command)])
  }
}

async function close(connection: Connection): Promise<void> {
  if (connection.status === 'ready') await connection.quit().catch(() => connection.disconnect())
  else connection.disconnect()
}
