/** Topic ids 0x0000 and 0xFFFF are reserved (§5.3.11): never assigned, never valid in a PUBLISH. */
export function isReservedTopicId(topicId: number): boolean {
  return topicId === 0x0000 || topicId === 0xffff
}

/**
 * One client's normal topic ids (§6.5): assigned by the gateway, for REGISTERs in both directions and
 * subscriptions by name. Bounded: once full, nothing new is registered.
 */
export class TopicRegistry {
  private readonly byId = new Map<number, string>()
  private readonly byName = new Map<string, number>()
  private nextId = 1

  constructor(
    private readonly limit: number,
    /** Ids handed out for predefined topics: normal ids skip them so a client never confuses the two. */
    private readonly taken: ReadonlySet<number>,
  ) {}

  get size(): number {
    return this.byId.size
  }

  name(topicId: number): string | undefined {
    return this.byId.get(topicId)
  }

  id(name: string): number | undefined {
    return this.byName.get(name)
  }

  /** The topic's id, assigning one when new; undefined when the registry is full. */
  register(name: string): number | undefined {
    const known = this.byName.get(name)
    if (known !== undefined) return known
    if (this.byId.size >= this.limit) return undefined
    let id = this.nextId
    while (isReservedTopicId(id) || this.taken.has(id) || this.byId.has(id)) id = id >= 0xfffe ? 1 : id + 1
    this.nextId = id >= 0xfffe ? 1 : id + 1
    this.byId.set(id, name)
    this.byName.set(name, id)
    return id
  }

  remove(topicId: number): void {
    const name = this.byId.get(topicId)
    if (name === undefined) return
    this.byId.delete(topicId)
    this.byName.delete(name)
  }
}
