import { Redis, type RedisOptions } from 'ioredis'

export interface RedisBridgeLeaseOptions {
  /** e.g. 'redis://127.0.0.1:6379/0'. */
  url?: string
  redis?: RedisOptions
  /** This node's id, as in the cluster (the broker id). */
  nodeId: string
  /** Put before every key. Default 'wren:bridge-lease:'. */
  prefix?: string
  /** How long a lease lives without renewal: a dead node's bridges move after at most this. Default 5000 ms. */
  ttlMs?: number
  /** How often a bridge renews (or tries to take) its lease. Default a third of `ttlMs`. */
  renewMs?: number
}

/** Takes the lease if free, or renews it if this node has it. KEYS: lease. ARGV: node id, ttl ms. */
const HOLD = `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`

/** Deletes the lease only if this node holds it. KEYS: lease. ARGV: node id. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

type LeaseRedis = Redis & {
  bridgeLeaseHold(key: string, nodeId: string, ttlMs: number): Promise<number>
  bridgeLeaseRelease(key: string, nodeId: string): Promise<number>
}

/**
 * One lease per bridge name in Redis (`@wren/bridge`'s BridgeLease): in a cluster, every node is configured
 * with the same bridges and each bridge runs on the node holding its lease; when that node dies, its leases
 * expire and another node takes the bridge over.
 */
export class RedisBridgeLease {
  readonly renewMs: number
  private readonly redis: LeaseRedis
  private readonly ttlMs: number
  private readonly prefix: string

  constructor(private readonly options: RedisBridgeLeaseOptions) {
    this.ttlMs = options.ttlMs ?? 5000
    this.renewMs = options.renewMs ?? Math.max(1, Math.floor(this.ttlMs / 3))
    this.prefix = options.prefix ?? 'wren:bridge-lease:'
    const redisOptions: RedisOptions = { maxRetriesPerRequest: 1, ...options.redis }
    const redis = options.url ? new Redis(options.url, redisOptions) : new Redis(redisOptions)
    redis.on('error', () => {})
    redis.defineCommand('bridgeLeaseHold', { numberOfKeys: 1, lua: HOLD })
    redis.defineCommand('bridgeLeaseRelease', { numberOfKeys: 1, lua: RELEASE })
    this.redis = redis as LeaseRedis
  }

  async hold(name: string): Promise<boolean> {
    return (await this.redis.bridgeLeaseHold(this.prefix + name, this.options.nodeId, this.ttlMs)) === 1
  }

  async release(name: string): Promise<void> {
    await this.redis.bridgeLeaseRelease(this.prefix + name, this.options.nodeId)
  }

  /** Closes the Redis connection (leases held expire on their own). */
  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect())
  }
}

export function createRedisBridgeLease(options: RedisBridgeLeaseOptions): RedisBridgeLease {
  return new RedisBridgeLease(options)
}
