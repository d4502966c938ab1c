import type { Message, RemoteDelivery } from '@wren/core'
import { type Forward, forwardsFrame } from './frames.js'

/** How frames reach a node's channel: PUBLISH, resolving with how many subscribers heard it. */
export type PublishFrame = (nodeId: string, frame: Buffer) => Promise<number>

/**
 * Queued forwards start another frame past this many payload bytes: a frame reaches the receiving node as one pub/sub
 * message, and Redis disconnects a subscriber whose output buffer outgrows its limit (32 MiB by default).
 */
const FRAME_PAYLOAD_BYTES = 256 * 1024

function flush(forwarding: Forwarding): void {
  forwarding.flush()
}

/** One target node's forwards: those waiting for the PUBLISH before them, and the frames on their way. */
class Outbox {
  /** Not sent yet, in order, cut into frames of at most about FRAME_PAYLOAD_BYTES of payload. */
  queued: Forward[][] = []
  private queuedBytes = 0
  /** One entry per PUBLISH on its way, oldest first: Redis answers them in the order they were sent. */
  readonly sent: Forward[][] = []
  /** Waits for the next flush. */
  due = false

  constructor(
    readonly nodeId: string,
    private readonly forwarding: Forwarding,
  ) {}

  add(forward: Forward): void {
    const last = this.queued[this.queued.length - 1]
    if (last && this.queuedBytes < FRAME_PAYLOAD_BYTES) {
      last.push(forward)
      this.queuedBytes += forward.message.payload.length
    } else {
      this.queued.push([forward])
      this.queuedBytes = forward.message.payload.length
    }
  }

  takeQueued(): Forward[][] {
    const queued = this.queued
    this.queued = []
    return queued
  }

  readonly answered = (receivers: number): void => this.forwarding.answered(this, receivers)

  readonly failed = (error: unknown): void => this.forwarding.answered(this, undefined, error)
}

/**
 * Messages routed here for sessions connected to other nodes. Each target node has one PUBLISH on its way at a
 * time: what is forwarded to it meanwhile waits, and goes out as one frame once that PUBLISH is answered (at the
 * end of that event-loop turn, so that every socket read of the turn joins). With nothing on its way, a forward
 * goes out at the end of the turn it was made in. Whatever a PUBLISH carries, it costs about the same on both
 * nodes and in Redis (socket writes and reads, ioredis' command handling, Redis' dispatch), so under load the
 * frames grow instead of their number, and a quiet node waits for nothing. Frames to one node go out in order on
 * one connection, and Redis delivers a channel's messages in order, so the order per publisher holds.
 */
export class Forwarding {
  private readonly outboxes = new Map<string, Outbox>()
  private due: Outbox[] = []

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
    let outbox = this.outboxes.get(nodeId)
    if (!outbox) {
      outbox = new Outbox(nodeId, this)
      this.outboxes.set(nodeId, outbox)
    }
    outbox.add({ message, deliveries })
    if (outbox.sent.length === 0) this.schedule(outbox)
  }

  /**
   * A control frame (release request or answer, hold or room) for `nodeId`, after the forwards already queued for
   * it: whatever it says about a session then holds for every message forwarded before it.
   */
  send(nodeId: string, frame: Buffer): Promise<number> {
    const outbox = this.outboxes.get(nodeId)
    if (outbox && outbox.queued.length > 0) this.sendQueued(outbox, undefined)
    return this.publish(nodeId, frame)
  }

  /** Sends what waits for a node with nothing on its way. */
  flush(): void {
    const due = this.due
    this.due = []
    // A message routed to several nodes is encoded for the first and copied into the others' frames.
    const written = due.length > 1 ? new Map<Message, Buffer>() : undefined
    for (const outbox of due) {
      outbox.due = false
      if (outbox.sent.length === 0) this.sendQueued(outbox, written)
    }
  }

  /** Stopping: everything queued goes out now, before the connections close. */
  flushAll(): void {
    this.due = []
    for (const outbox of this.outboxes.values()) {
      outbox.due = false
      this.sendQueued(outbox, undefined)
    }
  }

  /** Redis answered the oldest PUBLISH on its way to `outbox`'s node (`receivers` undefined: it failed). */
  answered(outbox: Outbox, receivers: number | undefined, error?: unknown): void {
    const forwards = outbox.sent.shift() ?? []
    if (receivers === undefined) this.failed(error, 'forward')
    else if (receivers === 0 && this.exactReceivers) for (const f of forwards) this.unheard(f.message, f.deliveries)
    if (outbox.sent.length > 0) return
    if (outbox.queued.length > 0) this.schedule(outbox)
    // Idle: nothing keeps a node's outbox, so those of nodes gone are not kept either.
    else if (this.outboxes.get(outbox.nodeId) === outbox) this.outboxes.delete(outbox.nodeId)
  }

  private schedule(outbox: Outbox): void {
    if (outbox.due) return
    outbox.due = true
    if (this.due.length === 0) setImmediate(flush, this)
    this.due.push(outbox)
  }

  private sendQueued(outbox: Outbox, written: Map<Message, Buffer> | undefined): void {
    for (const forwards of outbox.takeQueued()) {
      outbox.sent.push(forwards)
      this.publish(outbox.nodeId, forwardsFrame(this.nodeId, forwards, written)).then(outbox.answered, outbox.failed)
    }
  }
}
