/**
 * Collects what arrives (messages, packets, events) from the moment it is created, so a test can
 * wait for something that may already have arrived, and can check that nothing else did.
 */
export class Inbox<T> {
  /** Everything received, in order, including what has been taken. */
  readonly received: T[] = []
  private readonly pending: T[] = []
  private wake: Array<() => void> = []

  constructor(private readonly describe: (item: T) => string = (item) => JSON.stringify(item)) {}

  push(item: T): void {
    this.received.push(item)
    this.pending.push(item)
    const wake = this.wake
    this.wake = []
    for (const resolve of wake) resolve()
  }

  /** Items received but not taken yet. */
  get unread(): readonly T[] {
    return this.pending
  }

  /** Takes the first unread item that satisfies `predicate` (any item when absent), waiting up to `timeoutMs`. */
  async next(predicate: (item: T) => boolean = () => true, timeoutMs = 10_000, what = 'an item'): Promise<T> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const index = this.pending.findIndex(predicate)
      if (index !== -1) return this.pending.splice(index, 1)[0] as T
      const left = deadline - Date.now()
      if (left <= 0) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; unread: [${this.pending.map(this.describe).join(', ')}]`)
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.wake.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  /** Takes `count` items (that satisfy `predicate`), in arrival order. */
  async take(count: number, predicate: (item: T) => boolean = () => true, timeoutMs = 3000, what = 'items'): Promise<T[]> {
    const deadline = Date.now() + timeoutMs
    const taken: T[] = []
    while (taken.length < count) {
      const left = Math.max(1, deadline - Date.now())
      taken.push(await this.next(predicate, left, `${what} (${taken.length} of ${count} so far)`))
    }
    return taken
  }

  /** Waits `ms` and fails if any unread item (that satisfies `predicate`) is there by then. */
  async expectNone(ms = 300, predicate: (item: T) => boolean = () => true, what = 'nothing more'): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, ms))
    const extra = this.pending.filter(predicate)
    if (extra.length > 0) throw new Error(`expected ${what}, but received: [${extra.map(this.describe).join(', ')}]`)
  }
}
