/**
 * Each client's queue length, read from the file once and then kept in step by the writes: a `count(*)`
 * on every enqueue costs in proportion to the queue (55 µs at 1,000 entries, 422 µs at 20,000). The file
 * belongs to one process, so nothing else changes the counts under it.
 */
export class QueueLengths {
  private readonly lengths = new Map<string, number>()

  constructor(private readonly count: (clientId: string) => number) {}

  get(clientId: string): number {
    let length = this.lengths.get(clientId)
    if (length === undefined) {
      length = this.count(clientId)
      this.lengths.set(clientId, length)
    }
    return length
  }

  add(clientId: string, delta: number): void {
    const length = this.lengths.get(clientId)
    if (length !== undefined) this.lengths.set(clientId, length + delta)
  }

  forget(clientId: string): void {
    this.lengths.delete(clientId)
  }

  /** After a failed transaction the counts may be off: read them again when next needed. */
  clear(): void {
    this.lengths.clear()
  }
}
