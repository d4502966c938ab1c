import { LRUCache } from 'lru-cache'
import { pairKey } from '../pair-key.js'
import { hasWildcard, parseSharedFilter } from '../topic/topic-rules.js'
import type { Message, Subscription } from '../types.js'
import { TopicTree } from './topic-tree.js'

/** One subscription as the router knows it: a client's, a shared group member's, or an in-process listener. */
export interface RouteEntry {
  readonly clientId: string
  readonly subscription: Subscription
  /** Shared subscription group name; `groupKey` (group and inner filter) identifies the group. */
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
  private readonly cache: LRUCache<string, CachedMatch>
  /** Bumped by every change to a wildcard filter: cached results of an older generation are stale. */
  private generation = 0
  private listenerSeq = 0
  private sharedCount = 0
  private listenerCount = 0

  constructor(cacheSize: number) {
    const max = Math.max(1, cacheSize)
    this.cache = new LRUCache({ max, maxSize: max * CACHE_BYTES_PER_ENTRY, maxEntrySize: MAX_CACHED_BYTES, sizeCalculation: footprint })
  }

  /** What the topic-match cache holds, by the estimate its byte bound uses. */
  get cachedBytes(): number {
    return this.cache.calculatedSize
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
      const groupKey = pairKey(shared.group, shared.filter)
      if (this.tree.add(shared.filter, pairKey(clientId, shared.group), { clientId, subscription, group: shared.group, groupKey })) this.sharedCount++
      this.invalidate(shared.filter)
    } else {
      this.tree.add(subscription.filter, pairKey(clientId, ''), { clientId, subscription })
      this.invalidate(subscription.filter)
    }
  }

  remove(clientId: string, filter: string): boolean {
    const shared = parseSharedFilter(filter)
    const inner = shared ? shared.filter : filter
    const removed = this.tree.remove(inner, pairKey(clientId, shared ? shared.group : ''))
    if (removed) {
      if (shared) this.sharedCount--
      this.invalidate(inner)
    }
    return removed
  }

  /** Registers an in-process listener; returns the function that removes it. */
  listen(filter: string, listener: (message: Message) => void): () => void {
    // Not a pairKey (those start with a digit): a listener never shares a key with a client.
    const key = `:${++this.listenerSeq}`
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
    if (cached && cached.generation === this.generation) return cached.entries
    let found: RouteEntry[] | undefined
    this.tree.match(topic, (entry) => {
      if (found) found.push(entry)
      else found = [entry]
    })
    const result = found ?? NO_ENTRIES
    // A result over MAX_CACHED_BYTES (a huge topic, thousands of matching subscriptions) is not kept.
    this.cache.set(topic, { generation: this.generation, entries: result })
    return result
  }

  /**
   * Makes cached results that a change to `filter` could alter unreachable. A wildcard filter may touch any
   * number of cached topics: rather than scanning them (cache size x filters for a large SUBSCRIBE), the
   * whole cache goes stale at once.
   */
  private invalidate(filter: string): void {
    if (this.cache.size === 0) return
    if (hasWildcard(filter)) this.generation++
    else this.cache.delete(filter)
  }
}

interface CachedMatch {
  generation: number
  entries: readonly RouteEntry[]
}

/**
 * The cache is bounded by bytes as well as by count: a client can make topics of 64 KiB, or one topic match
 * thousands of its subscriptions (one per shared group), and a count alone let it pin 63 MiB of topic names.
 * On average an entry may take this much; typical ones (a short topic, a few subscribers) take a tenth of it.
 */
const CACHE_BYTES_PER_ENTRY = 1024
/** A result estimated larger than this is matched again on each publish rather than kept. */
const MAX_CACHED_BYTES = 64 * 1024

/** Estimated bytes of one cached result: its topic (UTF-16 at worst), the array of entries and the record around them. */
function footprint(value: CachedMatch, topic: string): number {
  return 2 * topic.length + 8 * value.entries.length + 64
}
