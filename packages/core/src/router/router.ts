import { LRUCache } from 'lru-cache'
import { hasWildcard, parseSharedFilter, topicMatches } from '../topic/topic-rules.js'
import type { Message, Subscription } from '../types.js'
import { TopicTree } from './topic-tree.js'

/** One subscription as the router knows it: a client's, a shared group member's, or an in-process listener. */
export interface RouteEntry {
  readonly clientId: string
  readonly subscription: Subscription
  /** Shared subscription group name; the key `group + '\0' + inner filter` identifies the group. */
  readonly group?: string
  readonly groupKey?: string
  readonly listener?: (message: Message) => void
}

const NO_ENTRIES: readonly RouteEntry[] = Object.freeze([])

/**
 * Who should get a topic: a topic tree of every subscription (online and offline sessions alike),
 * with an LRU of recent match results in front of it.
 */
export class Router {
  private readonly tree = new TopicTree<RouteEntry>()
  private readonly cache: LRUCache<string, readonly RouteEntry[]>
  private listenerSeq = 0
  private sharedCount = 0
  private listenerCount = 0

  constructor(cacheSize: number) {
    this.cache = new LRUCache({ max: Math.max(1, cacheSize) })
  }

  /** Every entry: client subscriptions (shared ones included) and in-process listeners. */
  get size(): number {
    return this.tree.size
  }

  /** Shared subscription memberships: one per client and `$share/<group>/<filter>`. */
  get sharedSize(): number {
    return this.sharedCount
  }

  get listenerSize(): number {
    return this.listenerCount
  }

  /** Every client subscription (online and offline sessions, shared ones with their `$share/` filter); listeners left out. */
  *subscriptions(): IterableIterator<RouteEntry> {
    for (const { value } of this.tree.entries()) if (!value.listener) yield value
  }

  add(clientId: string, subscription: Subscription): void {
    const shared = parseSharedFilter(subscription.filter)
    if (shared) {
      const groupKey = `${shared.group}\u0000${shared.filter}`
      if (this.tree.add(shared.filter, `${shared.group}\u0000${clientId}`, { clientId, subscription, group: shared.group, groupKey })) this.sharedCount++
      this.invalidate(shared.filter)
    } else {
      this.tree.add(subscription.filter, clientId, { clientId, subscription })
      this.invalidate(subscription.filter)
    }
  }

  remove(clientId: string, filter: string): boolean {
    const shared = parseSharedFilter(filter)
    const inner = shared ? shared.filter : filter
    const removed = this.tree.remove(inner, shared ? `${shared.group}\u0000${clientId}` : clientId)
    if (removed) {
      if (shared) this.sharedCount--
      this.invalidate(inner)
    }
    return removed
  }

  /** Registers an in-process listener; returns the function that removes it. */
  listen(filter: string, listener: (message: Message) => void): () => void {
    const key = `\u0001${++this.listenerSeq}`
    this.tree.add(filter, key, { clientId: '', subscription: { filter, qos: 2 }, listener })
    this.listenerCount++
    this.invalidate(filter)
    return () => {
      if (!this.tree.remove(filter, key)) return
      this.listenerCount--
      this.invalidate(filter)
    }
  }

  /** Every entry whose filter matches the topic. The array is shared through the cache: do not mutate it. */
  match(topic: string): readonly RouteEntry[] {
    const cached = this.cache.get(topic)
    if (cached) return cached
    let found: RouteEntry[] | undefined
    this.tree.match(topic, (entry) => {
      if (found) found.push(entry)
      else found = [entry]
    })
    const result = found ?? NO_ENTRIES
    this.cache.set(topic, result)
    return result
  }

  /** Drops cached results that a change to `filter` could alter. */
  private invalidate(filter: string): void {
    if (this.cache.size === 0) return
    if (!hasWildcard(filter)) {
      this.cache.delete(filter)
      return
    }
    const stale: string[] = []
    for (const topic of this.cache.keys()) if (topicMatches(filter, topic)) stale.push(topic)
    for (const topic of stale) this.cache.delete(topic)
  }
}
