import type { Persistence } from '@wren/core'
import { ConfigError, type PersistenceSpec } from './config.js'

type Factory<O> = (options: O) => Persistence | Promise<Persistence>

/**
 * Loads an adapter package only when it is asked for, so the server runs without
 * SQLite's native module or a redis client installed.
 */
async function loadFactory<O>(pkg: string, factoryName: string, spec: string): Promise<Factory<O>> {
  let mod: Record<string, unknown>
  try {
    mod = (await import(pkg)) as Record<string, unknown>
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ERR_MODULE_NOT_FOUND' && (error as Error).message.includes(pkg)) {
      throw new ConfigError(`persistence "${spec}" needs the package ${pkg}: install it next to @wren/server`)
    }
    throw error
  }
  const factory = mod[factoryName]
  if (typeof factory !== 'function') {
    throw new ConfigError(`${pkg} does not export ${factoryName}(): is it a matching version?`)
  }
  return factory as Factory<O>
}

/** The adapter a spec names; undefined for memory, which the broker provides itself. */
export async function openPersistence(spec: PersistenceSpec): Promise<Persistence | undefined> {
  switch (spec.kind) {
    case 'memory':
      return undefined
    case 'sqlite': {
      const create = await loadFactory<{ path: string }>(
        '@wren/persistence-sqlite',
        'createSqlitePersistence',
        `sqlite:${spec.path}`,
      )
      return create({ path: spec.path })
    }
    case 'redis': {
      const create = await loadFactory<{ url: string }>('@wren/persistence-redis', 'createRedisPersistence', spec.url)
      return create({ url: spec.url })
    }
  }
}
