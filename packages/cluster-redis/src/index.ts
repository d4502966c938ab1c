export { RedisClusterBus, createRedisCluster, type RedisClusterOptions } from './redis-cluster-bus.js'
