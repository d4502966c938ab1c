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

  constructor(private readonly core: BrokerCore) {}

  live(clientId: string): Session | undefined {
    return this.sessions.get(clientId)
  }

  isOnline(clientId: string): boolean {
    if (this.sessions.get(clientId)?.link) return true
    const owner = this.core.cluster?.ownerOf(clientId)
    return owner !== undefined && owner !== this.core.id
  }
}
