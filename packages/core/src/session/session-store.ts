import fastq from 'fastq'
import type { Persistence } from '../persistence/persistence.js'

type StoreOp =
  | { kind: 'sent'; messageId: string; packetId: number }
  | { kind: 'released'; packetId: number }
  | { kind: 'ack'; packetId: number }
  | { kind: 'remove'; messageId: string }
  | { kind: 'incoming-remove'; packetId: number }

/**
 * Mirrors one persistent session's delivery state into the store, in order: through a fastq one write at a
 * time, so an adapter with a connection pool can never apply "ack" before the "sent" it follows; or, for an
 * adapter that applies calls in call order, issued at once (a Redis round trip per write would cap a
 * session's delivery rate).
 */
export class SessionStore {
  private readonly queue: fastq.queue<StoreOp, void>
  private readonly pipelined: boolean
  private last: Promise<void> = Promise.resolve()
  /** Callers of `flushed` waiting for the queue to drain. */
  private waiting: Array<() => void> | null = null

  constructor(
    private readonly persistence: Persistence,
    private readonly clientId: string,
    private readonly onError: (error: Error) => void,
  ) {
    this.pipelined = persistence.appliesInCallOrder === true
    this.queue = fastq(this, SessionStore.apply, 1)
    this.queue.error((error) => {
      if (error) this.onError(error)
    })
  }

  private static apply(this: SessionStore, op: StoreOp, done: (error: Error | null) => void): void {
    this.write(op).then(
      () => done(null),
      (error: unknown) => done(error instanceof Error ? error : new Error(String(error))),
    )
  }

  private write(op: StoreOp): Promise<void> {
    const p = this.persistence
    const id = this.clientId
    switch (op.kind) {
      case 'sent':
        return p.outboundSent(id, op.messageId, op.packetId)
      case 'released':
        return p.outboundReleased(id, op.packetId)
      case 'ack':
        return p.outboundAck(id, op.packetId)
      case 'remove':
        return p.outboundRemove(id, op.messageId)
      case 'incoming-remove':
        return p.incomingRemove(id, op.packetId)
    }
  }

  push(op: StoreOp): void {
    if (!this.pipelined) {
      this.queue.push(op)
      return
    }
    // Applied in call order by the store, so the last write settling means all before it have too.
    this.last = this.write(op).catch((error: unknown) => this.onError(error instanceof Error ? error : new Error(String(error))))
  }

  /** Resolves once every write pushed so far has been applied. */
  flushed(): Promise<void> {
    if (this.pipelined) return this.last
    if (this.queue.idle()) return Promise.resolve()
    return new Promise((resolve) => {
      if (this.waiting !== null) {
        this.waiting.push(resolve)
        return
      }
      this.waiting = [resolve]
      this.queue.drain = () => {
        const waiting = this.waiting ?? []
        this.waiting = null
        this.queue.drain = () => {}
        for (const done of waiting) done()
      }
    })
  }
}
