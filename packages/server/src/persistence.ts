import type { Persistence } from '@wren/core'
import type { PersistenceSpec } from './config.js'
import { loadFactory } from './optional-package.js'

type Factory<O> = (options: O) => Persistence | Promise<Persistence>

/** The adapter a spec names; undefined for memory, which the broker provides itself. */
export async function openPersistence(spec: PersistenceSpec): Promise<Persistence | undefined> {
  switch (spec.kind) {
    case 'memory':
      return undefined
    case 'sqlite': {
      const create = await loadFactory<Factory<{ path: string }>>(
        '@wren/persistence-sqlite',
        'createSqlitePersistence',
        `persistence "sqlite:${spec.path}"`,
      )
      return create({ path: spec.path })
    }
    case 'redis': {
      const create = await loadFactory<Factory<{ url: string }>>(
        '@wren/persistence-redis',
        'createRedisPersistence',
        `persistence "${spec.url}"`,
      )
      return create({ url: spec.url })
    }
  }
}
