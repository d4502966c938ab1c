export { RedisPersistence, createRedisPersistence, type RedisPersistenceOptions } from './redis-persistence.js'
