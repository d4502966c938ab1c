import type { BrokerContext } from '../context.js'
import type { ClusterHandlers } from './cluster-bus.js'

/** What this node does with what the cluster bus tells it. */
export function clusterHandlers(ctx: BrokerContext): ClusterHandlers {
  const sessions = ctx.sessions
  return {
    deliver: (message, deliveries) => sessions.deliverRemote(message, deliveries),
    subscriptionAdded: (clientId, subscription) => ctx.router.add(clientId, subscription),
    subscriptionRemoved: (clientId, filter) => {
      ctx.router.remove(clientId, filter)
    },
    release: (clientId) => sessions.release(clientId),
    nodeDown: (nodeId, clients) => {
      ctx.logger.warn({ nodeId, clients: clients.length }, 'cluster node down: adopting its clients')
      void sessions.adoptOrphans(nodeId, clients)
    },
  }
}
