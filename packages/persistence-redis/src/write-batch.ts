/** What an enqueue that lost nothing resolves to; frozen because every such caller shares it. */
const NOTHING_LOST: readonly string[] = Object.freeze([])

/** How many writes one batch takes before it is sent without waiting for the end of the turn: a script blocks Redis while it runs. */
const MAX_WRITES_PER_BATCH = 500

type Arg = string | Buffer | number

class Batch {
  writes = 0
  readonly args: Arg[]
  /** Write number (from 1) and settle functions of each enqueue, which resolve to the clients they lost a message for. */
  readonly enqueues: Array<{ write: number; resolve: (lost: string[]) => void; reject: (error: unknown) => void }> = []
  readonly applied: Promise<void>
  resolve!: () => void
  reject!: (error: unknown) => void

  constructor(head: readonly Arg[]) {
    this.args = head.slice()
    this.applied = new Promise<void>((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
    // Callers get `applied` or an enqueue promise: a batch of enqueues alone must not leave it unhandled.
    this.applied.catch(() => {})
  }

  settle(reply: Arg[]): void {
    let lost: Map<number, string[]> | null = null
    for (let i = 0; i < reply.length; i += 2) {
      lost ??= new Map()
      const write = Number(reply[i])
      const list = lost.get(write)
      if (list) list.push(String(reply[i + 1]))
      else lost.set(write, [String(reply[i + 1])])
    }
    for (const enqueue of this.enqueues) enqueue.resolve(lost?.get(enqueue.write) ?? (NOTHING_LOST as string[]))
    this.resolve()
  }

  fail(error: unknown): void {
    for (const enqueue of this.enqueues) enqueue.reject(error)
    this.reject(error)
  }
}

/**
 * Gathers the queue writes (enqueue, sent, released, ack, remove) made during one turn of the event loop into
 * one call of the batch script, sent when the turn is over, when the batch is full, or before any other command
 * (so that every call still takes effect in the order it was made). Each write's promise settles when Redis has
 * applied the whole batch. A script error fails every write of its batch; Redis does not undo the writes the
 * script made before the error, as it did not for a failed single-write script either.
 */
export class WriteBatch {
  private batch: Batch | null = null
  private sendScheduled = false
  private readonly sendTurn = (): void => {
    this.sendScheduled = false
    this.flush()
  }

  /**
   * @param head the script's fixed leading arguments (key prefixes)
   * @param run sends the batch script with these arguments, resolving to its reply
   */
  constructor(
    private readonly head: readonly Arg[],
    private readonly run: (args: Arg[]) => Promise<unknown>,
  ) {}

  enqueue(fields: Arg[]): Promise<string[]> {
    const batch = this.open()
    const write = ++batch.writes
    const args = batch.args
    args.push('E')
    for (const field of fields) args.push(field)
    const lost = new Promise<string[]>((resolve, reject) => batch.enqueues.push({ write, resolve, reject }))
    this.sendIfFull(batch)
    return lost
  }

  sent(clientId: string, messageId: string, packetId: number): Promise<void> {
    return this.add('S', clientId, messageId, packetId)
  }

  released(clientId: string, packetId: number): Promise<void> {
    return this.add('R', clientId, packetId)
  }

  ack(clientId: string, packetId: number): Promise<void> {
    return this.add('A', clientId, packetId)
  }

  remove(clientId: string, messageId: string): Promise<void> {
    return this.add('X', clientId, messageId)
  }

  /** Sends what is gathered: call before any other command, so it reaches Redis after the writes made before it. */
  flush(): void {
    const batch = this.batch
    if (batch === null) return
    this.batch = null
    this.run(batch.args).then(
      (reply) => batch.settle(reply as Arg[]),
      (error: unknown) => batch.fail(error),
    )
  }

  private add(kind: 'S' | 'R' | 'A' | 'X', clientId: string, field: Arg, packetId?: number): Promise<void> {
    const batch = this.open()
    batch.writes++
    if (packetId === undefined) batch.args.push(kind, clientId, field)
    else batch.args.push(kind, clientId, field, packetId)
    this.sendIfFull(batch)
    return batch.applied
  }

  private open(): Batch {
    if (this.batch !== null) return this.batch
    this.batch = new Batch(this.head)
    if (!this.sendScheduled) {
      this.sendScheduled = true
      setImmediate(this.sendTurn)
    }
    return this.batch
  }

  private sendIfFull(batch: Batch): void {
    if (batch.writes >= MAX_WRITES_PER_BATCH) this.flush()
  }
}
