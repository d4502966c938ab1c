import type { Message, RemoteDelivery } from '@wren/core'
import { type Forward, forwardsFrame } from './frames.js'

/** How forwards reach a node's channel: PUBLISH, resolving with how many subscribers heard it. */
export type PublishFrame = (nodeId: string, frame: Buffer) => Promise<number>

function flush(forwarding: Forwarding): void {
  forwarding.flush()
}

/**
 * Messages routed here for sessions connected to other nodes. Forwards made to one node in one turn of the event
 * loop go out as one PUBLISH (one frame, in order), sent once every socket read of that turn has been handled: a
 * Redis round trip and a pub/sub message per forwarded message was most of what a cross-node message cost, and the
 * socket write of each PUBLISH is most of what remains, so the fewer the better.
 */
export class Forwarding {
  private readonly pending = new Map<string, Forward[]>()

  constructor(
    private readonly nodeId: string,
    private readonly publish: PublishFrame,
    /** Whether a receiver count of 0 means nobody heard it (exact on one server, one shard's count on Redis Cluster). */
    private readonly exactReceivers: boolean,
    /** Forwards nobody heard (the node died, or its subscription is down). */
    private readonly unheard: (message: Message, deliveries: RemoteDelivery[]) => void,
    private readonly failed: (error: unknown, action: string) => void,
  ) {}

  forward(nodeId: string, message: Message, deliveries: RemoteDelivery[]): void {
    let pending = this.pending.get(nodeId)
    if (!pending) {
      pending = []
      this.pending.set(nodeId, pending)
      if (this.pending.size === 1) setImmediate(flush, this)
    }
    pending.push({ message, deliveries })
  }

  /** Sends what this tick forwarded (also on stop, before the connections close). */
  flush(): void {
    // A message routed to several nodes is encoded for the first and copied into the others' frames.
    const written = this.pending.size > 1 ? new Map<Message, Buffer>() : undefined
    for (const [nodeId, forwards] of this.pending) {
      this.publish(nodeId, forwardsFrame(this.nodeId, forwards, written))
        .then((receivers) => {
          if (receivers === 0 && this.exactReceivers) for (const f of forwards) this.unheard(f.message, f.deliveries)
        })
        .catch((error: unknown) => this.failed(error, 'forward'))
    }
    this.pending.clear()
  }
}
