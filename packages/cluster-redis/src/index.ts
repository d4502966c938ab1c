export { RedisClusterBus, createRedisCluster, type RedisClusterOptions } from './redis-cluster-bus.js'
export { RedisBridgeLease, createRedisBridgeLease, type RedisBridgeLeaseOptions } from './bridge-lease.js'
