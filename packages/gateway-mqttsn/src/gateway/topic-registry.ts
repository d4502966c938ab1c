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

  /** The registrations as JSON (`{ "id": "topic" }`), leaving out `except`: ids the client has not confirmed. */
  serialize(except: ReadonlySet<number>): string {
    const saved: Record<number, string> = {}
    for (const [id, name] of this.byId) if (!except.has(id)) saved[id] = name
    return JSON.stringify(saved)
  }

  /**
   * Takes back what `serialize` wrote; entries that are not a valid id and topic, clash with a predefined id or
   * exceed the limit are skipped, as the store is outside this process's control.
   */
  restore(json: string): void {
    const saved: unknown = JSON.parse(json)
    if (saved === null || typeof saved !== 'object') return
    for (const [key, name] of Object.entries(saved)) {
      const id = Number(key)
      if (this.byId.size >= this.limit) return
      if (!Number.isInteger(id) || id < 0 || id > 0xffff || isReservedTopicId(id) || this.taken.has(id)) continue
      if (typeof name !== 'string' || name === '' || this.byId.has(id) || this.byName.has(name)) continue
      this.byId.set(id, name)
      this.byName.set(name, id)
      if (id >= this.nextId) this.nextId = id >= 0xfffe ? 1 : id + 1
    }
  }

  remove(topicId: number): void {
    const name = this.byId.get(topicId)
    if (name === undefined) return
    this.byId.delete(topicId)
    this.byName.delete(name)
  }
}
