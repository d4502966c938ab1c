import { type BrokerCore, reportStoreError } from '../core.js'
import type { SessionManager } from './session-manager.js'
import type { SessionRegistry } from './session-registry.js'
import { deleteStoredSession } from './stored-session.js'
import type { Wills } from './wills.js'

/** Store queues counted at once after start: the count must not crowd out the clients' own store traffic. */
const RECOUNT_CONCURRENCY = 8

/**
 * Sessions no running process holds: those in the store when the broker starts, and a dead cluster node's, which
 * this node adopts. Their wills go out, their expiry is armed again and their offline queues are counted.
 */
export class SessionRecovery {
  constructor(
    private readonly core: BrokerCore,
    private readonly registry: SessionRegistry,
    private readonly sessions: SessionManager,
    private readonly wills: Wills,
  ) {}

  /**
   * At start: loads stored subscriptions into the router, re-arms expiry of offline sessions, and
   * publishes the wills of clients that were connected when the previous process died.
   */
  async restore(): Promise<void> {
    const persistence = this.core.persistence
    for (const { clientId, subscriptions } of await persistence.subscriptionsAll()) {
      for (const subscription of subscriptions) this.core.router.add(clientId, subscription)
    }
    const now = Date.now()
    // In a cluster, state recorded by a live node belongs to it; anything else is orphaned.
    const live = new Set(this.core.cluster?.nodes() ?? [])
    const records = await persistence.sessionList()
    const held: string[] = []
    for (const record of records) {
      if (record.disconnectedAt === undefined && record.brokerId !== undefined && live.has(record.brokerId)) continue
      if (record.expiryInterval === 0) {
        await deleteStoredSession(this.core, record.clientId)
        continue
      }
      const since = record.disconnectedAt ?? now
      // A session stored under a longer (or no) cap expires by today's `maxSessionExpiryInterval`.
      const expiry = Math.min(record.expiryInterval, this.core.options.maxSessionExpiryInterval)
      this.sessions.expireAfter(record.clientId, Math.max(0, since + expiry * 1000 - now))
      // In a cluster an offline session counts on the node that last held it.
      if (!this.core.cluster || record.brokerId === undefined || record.brokerId === this.core.id) held.push(record.clientId)
    }
    this.hold(held)
    const sessionExpiry = new Map(records.map((r) => [r.clientId, r.expiryInterval]))
    for (const will of await persistence.willList()) {
      if (this.registry.online.has(will.clientId) || (will.brokerId !== undefined && live.has(will.brokerId))) continue
      // The previous process died with the client connected: its will delay starts now.
      const delay = Math.min(will.delayInterval, sessionExpiry.get(will.clientId) ?? 0)
      if (delay > 0) this.wills.delay(will.clientId, will.message, delay)
      else this.wills.publish(will.clientId, will.message)
    }
  }

  /** Cluster: this node won the claim on a dead node's clients: their wills go out, their sessions go offline. */
  async adoptOrphans(nodeId: string, clients: string[]): Promise<void> {
    const persistence = this.core.persistence
    const now = Date.now()
    for (const clientId of clients) {
      await this.sessions
        .exclusive(clientId, async () => {
          if (this.registry.isOnline(clientId)) return
          const will = await persistence.willGet(clientId)
          if (will && will.brokerId === nodeId) this.wills.publish(clientId, will.message)
          const record = await persistence.sessionGet(clientId)
          if (!record || record.brokerId !== nodeId) return
          if (record.expiryInterval === 0) {
            await deleteStoredSession(this.core, clientId)
            return
          }
          await persistence.sessionSave({ ...record, disconnectedAt: now })
          this.sessions.expireAfter(clientId, record.expiryInterval * 1000)
          this.hold([clientId])
        })
        .catch((error: unknown) => reportStoreError(this.core, error))
    }
  }

  /**
   * Offline sessions found in the store become this node's to count: at once in the session gauge, their queues
   * in the background (a few store reads at a time, so that a large store does not hold the start up).
   */
  private hold(clientIds: string[]): void {
    const offline = this.registry.offline
    for (const clientId of clientIds) offline.hold(clientId)
    let next = 0
    const worker = async (): Promise<void> => {
      // A broker closing (its store with it) stops counting: what is left is no one's concern any more.
      while (next < clientIds.length && !this.core.closing) {
        const clientId = clientIds[next++] as string
        await offline.recount(clientId, () => this.core.persistence.outboundList(clientId)).catch((error: unknown) => {
          if (!this.core.closing) reportStoreError(this.core, error)
        })
      }
    }
    for (let i = 0; i < Math.min(RECOUNT_CONCURRENCY, clientIds.length); i++) void worker()
  }
}
