import type { ClusterBus, Logger } from '@wren/core'
import { loadFactory } from './optional-package.js'
import { assertRedisReachable } from './reachable.js'

type Factory = (options: { url: string; nodeId?: string; logger?: Logger }) => ClusterBus

/** The Redis cluster bus at `url`, from the optional `@wren/cluster-redis`. */
export async function openCluster(url: string, nodeId: string | undefined, logger: Logger): Promise<ClusterBus> {
  const create = await loadFactory<Factory>('@wren/cluster-redis', 'createRedisCluster', `cluster "${url}"`)
  await assertRedisReachable(url, 'cluster')
  return create({ url, logger, ...(nodeId === undefined ? {} : { nodeId }) })
}
