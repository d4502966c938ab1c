import type Database from 'better-sqlite3'

/** What an enqueue that dropped nothing resolves to; frozen because every such caller shares it. */
const NOTHING_DROPPED: readonly string[] = Object.freeze([])

/** How many writes one transaction takes before it commits without waiting for the end of the turn. */
const MAX_WRITES_PER_COMMIT = 1000

class Batch {
  writes = 0
  readonly committed: Promise<void>
  resolve!: () => void
  reject!: (error: unknown) => void
  private nothingDropped: Promise<string[]> | null = null

  constructor() {
    this.committed = new Promise<void>((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
    // Every caller gets `committed` or a promise made from it; this keeps a batch whose own writes all failed
    // from turning a failed COMMIT into an unhandled rejection.
    this.committed.catch(() => {})
  }

  /** One promise per batch for every enqueue that dropped nothing, instead of a `then` per call. */
  committedWithNothingDropped(): Promise<string[]> {
    this.nothingDropped ??= this.committed.then(() => NOTHING_DROPPED as string[])
    return this.nothingDropped
  }
}

/**
 * Group commit. Every write made during one turn of the event loop joins one transaction, which commits when
 * the turn is over (or once it holds MAX_WRITES_PER_COMMIT writes); each write's promise settles only after
 * that COMMIT, so whatever the broker acknowledges on it is in the WAL file. A COMMIT is most of what a small
 * write costs (WAL frames written, the WAL index updated), so a turn with 20 publishes and their deliveries
 * pays for one instead of sixty.
 *
 * Writes run at once inside the open transaction, so reads see them and calls take effect in call order.
 * A failed statement is undone alone (better-sqlite3 runs a nested `db.transaction()` as a savepoint; SQLite
 * undoes a single failed statement) and only its caller sees the error. The few errors that end the whole
 * transaction (I/O, disk full), and a failed COMMIT, fail every write of the batch and call `onRollback`, so
 * what the adapter keeps in process about the file (queue lengths) is counted again.
 */
export class GroupCommit {
  private batch: Batch | null = null
  private commitScheduled = false
  private readonly begin: Database.Statement
  private readonly commitStatement: Database.Statement
  private readonly rollback: Database.Statement
  private readonly commitTurn = (): void => {
    this.commitScheduled = false
    this.commit()
  }

  /**
   * `beforeCommit` runs the batch's deferred statements inside its transaction; if it throws, the batch rolls
   * back as a failed COMMIT does.
   */
  constructor(
    private readonly db: Database.Database,
    private readonly onRollback: () => void,
    private readonly beforeCommit: () => void,
  ) {
    this.begin = db.prepare('BEGIN')
    this.commitStatement = db.prepare('COMMIT')
    this.rollback = db.prepare('ROLLBACK')
  }

  /** Opens the turn's transaction unless it is open: call before a write's statements. */
  join(): void {
    if (this.batch) {
      if (this.db.inTransaction) return
      this.lost(this.batch)
    }
    this.begin.run()
    this.batch = new Batch()
    if (!this.commitScheduled) {
      this.commitScheduled = true
      setImmediate(this.commitTurn)
    }
  }

  /** After a write's statements succeeded: the promise of the COMMIT that makes them durable. */
  wrote(): Promise<void> {
    return this.count().committed
  }

  /** `wrote()` for an enqueue that nobody lost the message in. */
  wroteNothingDropped(): Promise<string[]> {
    return this.count().committedWithNothingDropped()
  }

  /** `wrote()` for an enqueue, resolving to the clients that lost a message. */
  wroteEnqueue(dropped: string[]): Promise<string[]> {
    if (dropped.length === 0) return this.wroteNothingDropped()
    return this.count().committed.then(() => dropped)
  }

  /** Commits the open transaction now (at the end of a turn, when full, or before the file closes). */
  commit(): void {
    const batch = this.batch
    if (!batch) return
    if (!this.db.inTransaction) {
      this.lost(batch)
      return
    }
    this.batch = null
    try {
      this.beforeCommit()
      this.commitStatement.run()
    } catch (error) {
      if (this.db.inTransaction) this.rollback.run()
      this.onRollback()
      batch.reject(error)
      return
    }
    batch.resolve()
  }

  /** SQLite ended the transaction after a statement error: the writes before it went with it. */
  private lost(batch: Batch): void {
    this.batch = null
    this.onRollback()
    batch.reject(new Error('SQLite rolled back the transaction after an error: its writes were not stored'))
  }

  private count(): Batch {
    const batch = this.batch as Batch
    if (++batch.writes >= MAX_WRITES_PER_COMMIT) this.commit()
    return batch
  }
}
