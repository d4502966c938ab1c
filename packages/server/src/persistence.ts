import { mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Persistence } from '@wren/core'
import { StartupError } from './config-error.js'
import { loadFactory } from './optional-package.js'
import type { PersistenceSpec } from './persistence-spec.js'
import { assertRedisReachable } from './reachable.js'

type Factory<O> = (options: O) => Persistence | Promise<Persistence>

/** The SQLite adapter on `path`, whose folder is created when missing (`sqlite:./data/wren.db` on a fresh checkout). */
async function openSqlite(path: string): Promise<Persistence> {
  const create = await loadFactory<Factory<{ path: string }>>('@wren/persistence-sqlite', 'createSqlitePersistence', `persistence "sqlite:${path}"`)
  try {
    await mkdir(dirname(path), { recursive: true })
    return await create({ path })
  } catch (error) {
    throw new StartupError(`cannot open SQLite file ${path}: ${(error as Error).message}`)
  }
}

/** The adapter a spec names; undefined for memory, which the broker provides itself. */
export async function openPersistence(spec: PersistenceSpec): Promise<Persistence | undefined> {
  switch (spec.kind) {
    case 'memory':
      return undefined
    case 'sqlite':
      return openSqlite(spec.path)
    case 'redis': {
      const create = await loadFactory<Factory<{ url: string }>>(
        '@wren/persistence-redis',
        'createRedisPersistence',
        `persistence "${spec.url}"`,
      )
      await assertRedisReachable(spec.url, 'persistence')
      return create({ url: spec.url })
    }
  }
}
