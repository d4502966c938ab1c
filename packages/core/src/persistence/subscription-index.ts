import { pairKey } from '../pair-key.js'
import { TopicTree } from '../router/topic-tree.js'
import { parseSharedFilter } from '../topic/topic-rules.js'
import type { Subscription } from '../types.js'

interface Indexed {
  clientId: string
  subscription: Subscription
}

/**
 * Stored subscriptions by topic, for `Persistence.subscriptionsByTopic`: one entry per client and filter as
 * sent, shared subscriptions matched on the filter after `$share/<group>/`. Shared by the adapters that
 * keep their index in process (memory, SQLite).
 */
export class SubscriptionIndex {
  private readonly tree = new TopicTree<Indexed>()

  add(clientId: string, subscription: Subscription): void {
    this.tree.add(matchingFilter(subscription.filter), pairKey(clientId, subscription.filter), { clientId, subscription })
  }

  remove(clientId: string, filter: string): void {
    this.tree.remove(matchingFilter(filter), pairKey(clientId, filter))
  }

  /** Matching subscriptions, as copies the caller may keep. */
  match(topic: string): Array<{ clientId: string; subscription: Subscription }> {
    const found: Array<{ clientId: string; subscription: Subscription }> = []
    this.tree.match(topic, ({ clientId, subscription }) => {
      found.push({ clientId, subscription: { ...subscription } })
    })
    return found
  }
}

function matchingFilter(filter: string): string {
  return parseSharedFilter(filter)?.filter ?? filter
}
