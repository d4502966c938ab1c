import type { Connection } from '../connection/connection.js'
import type { BrokerCore } from '../core.js'
import type { SessionLookup } from '../router/distribute.js'
import { OfflineTally } from './offline-tally.js'
import type { Session } from './session.js'

/** Who is connected here and which sessions are in memory: what routing asks of the session layer. */
export class SessionRegistry implements SessionLookup {
  readonly online = new Map<string, Connection>()
  readonly sessions = new Map<string, Session>()
  /** Offline sessions held here and their store queues, kept as they change for the gauges. */
  readonly offline = new OfflineTally()
  /** Clients whose CONNECT is opening their session: what is queued in their store queue meanwhile may be missed. */
  readonly opening = new Set<string>()
  /** Sends a connected session what was queued in its store queue after it read it (the session manager's). */
  pickUp: (clientId: string) => void = () => {}

  constructor(private readonly core: BrokerCore) {}

  live(clientId: string): Session | undefined {
    return this.sessions.get(clientId)
  }

  queuedAway(clientIds: readonly string[]): void {
    const cluster = this.core.cluster
    // In a cluster the owners are looked up in Redis, this node included.
    if (cluster) cluster.queued(clientIds)
    else for (const clientId of clientIds) this.pickUp(clientId)
  }

  isOnline(clientId: string): boolean {
    if (this.sessions.get(clientId)?.link) return true
    const owner = this.core.cluster?.ownerOf(clientId)
    return owner !== undefined && owner !== this.core.id
  }
}
