import { resolve } from 'node:path'
import { describe, nonEmptyString, redisUrl } from './checks.js'
import { ConfigError } from './config-error.js'

export type PersistenceSpec =
  | { kind: 'memory' }
  | { kind: 'sqlite'; path: string }
  | { kind: 'redis'; url: string }

/** An already parsed spec, as in a `ServerConfig` handed back to `startServer`. */
function isPersistenceSpec(value: unknown): value is PersistenceSpec {
  if (value === null || typeof value !== 'object') return false
  const spec = value as Record<string, unknown>
  return (
    spec.kind === 'memory' ||
    (spec.kind === 'sqlite' && typeof spec.path === 'string') ||
    (spec.kind === 'redis' && typeof spec.url === 'string')
  )
}

/** `memory`, `sqlite:<file>` or `redis://host:port[/db]`; a relative SQLite path is taken from `baseDir`. */
export function parsePersistence(value: unknown, label: string, baseDir: string): PersistenceSpec {
  if (isPersistenceSpec(value)) return value
  const spec = nonEmptyString(value, label)
  if (spec === 'memory') return { kind: 'memory' }
  if (spec.startsWith('sqlite:')) {
    const file = spec.slice('sqlite:'.length)
    if (file.length === 0) throw new ConfigError(`${label}: "sqlite:" needs a file, e.g. sqlite:./wren.db`)
    return { kind: 'sqlite', path: resolve(baseDir, file) }
  }
  if (spec.startsWith('redis://') || spec.startsWith('rediss://')) return { kind: 'redis', url: redisUrl(spec, label) }
  throw new ConfigError(
    `${label} must be "memory", "sqlite:<file>" or "redis://host:port[/db]", got ${describe(spec)}`,
  )
}
