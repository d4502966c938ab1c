export { SqlitePersistence, createSqlitePersistence, type SqlitePersistenceOptions } from './sqlite-persistence.js'
export { MIGRATIONS } from './schema.js'
