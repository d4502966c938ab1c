import fastq from 'fastq'
import type { Persistence } from '../persistence/persistence.js'

type StoreOp =
  | { kind: 'sent'; messageId: string; packetId: number }
  | { kind: 'released'; packetId: number }
  | { kind: 'ack'; packetId: number }
  | { kind: 'remove'; messageId: string }
  | { kind: 'incoming-remove'; packetId: number }

/**
 * Mirrors one persistent session's delivery state into the store, one write at a time and in order,
 * so an adapter with a connection pool can never apply "ack" before the "sent" it follows.
 */
export class SessionStore {
  private readonly queue: fastq.queue<StoreOp, void>

  constructor(
    private readonly persistence: Persistence,
    private readonly clientId: string,
    onError: (error: Error) => void,
  ) {
    this.queue = fastq(this, SessionStore.apply, 1)
    this.queue.error((error) => {
      if (error) onError(error)
    })
  }

  private static apply(this: SessionStore, op: StoreOp, done: (error: Error | null) => void): void {
    const p = this.persistence
    const id = this.clientId
    let promise: Promise<void>
    switch (op.kind) {
      case 'sent':
        promise = p.outboundSent(id, op.messageId, op.packetId)
        break
      case 'released':
        promise = p.outboundReleased(id, op.packetId)
        break
      case 'ack':
        promise = p.outboundAck(id, op.packetId)
        break
      case 'remove':
        promise = p.outboundRemove(id, op.messageId)
        break
      case 'incoming-remove':
        promise = p.incomingRemove(id, op.packetId)
        break
    }
    promise.then(
      () => done(null),
      (error: unknown) => done(error instanceof Error ? error : new Error(String(error))),
    )
  }

  push(op: StoreOp): void {
    this.queue.push(op)
  }

  /** Resolves once every write pushed so far has been applied. */
  flushed(): Promise<void> {
    if (this.queue.idle()) return Promise.resolve()
    return new Promise((resolve) => {
      this.queue.drain = () => {
        this.queue.drain = () => {}
        resolve()
      }
    })
  }
}
