import type { BrokerCore } from '../core.js'

/** Removes a session's subscriptions from the router (and from every other cluster node's). */
export function dropSubscriptions(core: BrokerCore, clientId: string, filters: string[]): void {
  for (const filter of filters) {
    core.router.remove(clientId, filter)
    core.cluster?.announceUnsubscription(clientId, filter)
  }
}

/** Ends a session kept only in the store: its subscriptions leave the routers, then its record goes. */
export async function deleteStoredSession(core: BrokerCore, clientId: string): Promise<void> {
  dropSubscriptions(
    core,
    clientId,
    (await core.persistence.subscriptionsGet(clientId)).map((s) => s.filter),
  )
  await core.persistence.sessionDelete(clientId)
}
