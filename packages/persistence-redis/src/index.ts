export {
  REDIS_CLIENT_DEFAULTS,
  RedisPersistence,
  createRedisPersistence,
  type RedisPersistenceOptions,
} from './redis-persistence.js'
