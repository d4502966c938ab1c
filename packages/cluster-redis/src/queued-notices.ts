import { within } from './within.js'

export interface QueuedNoticesOptions {
  nodeId: string
  /** Each client's owner as Redis has it now (HMGET of the owner map), null for a client connected nowhere. */
  owners: (clientIds: string[]) => Promise<Array<string | null>>
  /** Tells node `nodeId` that messages were queued in the store for these clients it holds. */
  notify: (nodeId: string, clientIds: string[]) => Promise<unknown>
  /** The same for clients this node holds: the broker's handler. */
  local: (clientIds: string[]) => void
  /** How long a notice that failed (Redis did not answer) waits before it is tried again. */
  retryMs: number
  failed: (error: unknown, action: string) => void
}

function send(notices: QueuedNotices): void {
  notices.send()
}

/**
 * Messages this node queued in the store for persistent sessions it does not hold (a forward nobody heard, a forward
 * that reached this node after its client had left) may be for a session that is connected to another node by then,
 * and a connected session reads its store queue only when it resumes. So once such a write has landed, the owners are
 * read from Redis itself, not from this node's view (which lags a claim by a pub/sub hop), and each owner is told:
 * a session whose claim Redis had applied by then gets the notice, and one claimed later reads the store after the
 * write when it resumes. Notices of one event-loop turn go out together, one per owner; a notice that fails is tried
 * again every `retryMs`.
 */
export class QueuedNotices {
  private waiting = new Set<string>()
  private scheduled = false
  private retryTimer: NodeJS.Timeout | undefined = undefined
  private stopped = false

  constructor(private readonly options: QueuedNoticesOptions) {}

  /** The store has taken messages for these clients. */
  queued(clientIds: readonly string[]): void {
    for (const clientId of clientIds) this.waiting.add(clientId)
    if (this.scheduled || this.retryTimer !== undefined || this.stopped) return
    this.scheduled = true
    setImmediate(send, this)
  }

  /** @internal */
  send(): void {
    this.scheduled = false
    this.retryTimer = undefined
    if (this.stopped || this.waiting.size === 0) return
    const clientIds = [...this.waiting]
    this.waiting.clear()
    void this.notifyOwners(clientIds)
  }

  /** Stopping: what waits is tried once more, for at most `waitMs`; nothing is tried after that. */
  async stop(waitMs: number): Promise<void> {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    const clientIds = [...this.waiting]
    this.waiting.clear()
    if (clientIds.length > 0) await within(this.notifyOwners(clientIds), waitMs)
    this.stopped = true
  }

  private async notifyOwners(clientIds: string[]): Promise<void> {
    const { nodeId, owners, notify, local } = this.options
    let byOwner: Map<string, string[]>
    try {
      const found = await owners(clientIds)
      byOwner = new Map()
      for (let i = 0; i < clientIds.length; i++) {
        const owner = found[i]
        if (owner === null || owner === undefined) continue
        const list = byOwner.get(owner)
        if (list) list.push(clientIds[i] as string)
        else byOwner.set(owner, [clientIds[i] as string])
      }
    } catch (error) {
      this.retry(clientIds, error)
      return
    }
    const sends: Array<Promise<unknown>> = []
    for (const [owner, ids] of byOwner) {
      if (owner === nodeId) local(ids)
      else sends.push(notify(owner, ids).catch((error: unknown) => this.retry(ids, error)))
    }
    await Promise.all(sends)
  }

  private retry(clientIds: string[], error: unknown): void {
    this.options.failed(error, 'queued notice')
    if (this.stopped) return
    for (const clientId of clientIds) this.waiting.add(clientId)
    this.retryTimer ??= setTimeout(send, this.options.retryMs, this).unref()
  }
}
