import type { BrokerCore } from '../core.js'
import type { Distributor } from '../router/distribute.js'
import type { SessionManager } from '../session/session-manager.js'
import type { SessionRecovery } from '../session/session-recovery.js'
import type { ClusterHandlers } from './cluster-bus.js'

/** The parts of this node the cluster bus reaches. */
export interface ClusterPeers {
  sessions: SessionManager
  recovery: SessionRecovery
  distributor: Distributor
}

/** What this node does with what the cluster bus tells it. */
export function clusterHandlers(core: BrokerCore, { sessions, recovery, distributor }: ClusterPeers): ClusterHandlers {
  return {
    deliver: (message, deliveries, from) => distributor.deliverRemote(message, deliveries, from),
    subscriptionAdded: (clientId, subscription) => core.router.add(clientId, subscription),
    subscriptionRemoved: (clientId, filter) => {
      core.router.remove(clientId, filter)
    },
    release: (clientId) => sessions.release(clientId),
    queued: (clientIds) => {
      for (const clientId of clientIds) void sessions.pickUpQueued(clientId)
    },
    nodeDown: (nodeId, clients) => {
      core.logger.warn({ nodeId, clients: clients.length }, 'cluster node down: adopting its clients')
      void recovery.adoptOrphans(nodeId, clients)
    },
  }
}
