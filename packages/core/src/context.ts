import type { BrokerCore } from './core.js'
import type { Distributor } from './router/distribute.js'
import type { SessionManager } from './session/session-manager.js'

/** What packet handlers, the admin API and the cluster node share: the core services, sessions and routing. */
export interface BrokerContext extends BrokerCore {
  readonly sessions: SessionManager
  /** Routes accepted messages to subscribers: `distributor.route(...)` is where a PUBLISH goes. */
  readonly distributor: Distributor
  /** Resolves once persisted state is loaded (and the cluster joined). */
  readonly ready: Promise<void>
  /** True once `ready` has resolved: a connect then need not wait for it (one promise turn less per connect). */
  started: boolean
}
