import { randomInt } from 'node:crypto'
import type { Holdable, Message, RemoteDelivery } from '@wren/core'
import { PUBLISH_HEADROOM, PUBLISH_TAILROOM } from './frame-publish.js'
import { type Forward, forwardsFrame } from './frames.js'
import { within } from './within.js'

/** How frames reach a node's channel: PUBLISH, resolving with how many subscribers heard it. */
export type PublishFrame = (nodeId: string, frame: Buffer) => Promise<number>

/**
 * Queued forwards start another frame past this many payload bytes: a frame reaches the receiving node as one pub/sub
 * message, and Redis disconnects a subscriber whose output buffer outgrows its limit (32 MiB by default).
 */
const FRAME_PAYLOAD_BYTES = 256 * 1024

/** What a forward waiting for Redis is counted as against the backlog bound: its payload and about this much of objects. */
const FORWARD_OVERHEAD_BYTES = 256

const PUBLISH_ROOM = { before: PUBLISH_HEADROOM, after: PUBLISH_TAILROOM }

export interface ForwardingOptions {
  nodeId: string
  /** PUBLISH of a frame of forwards, written with PUBLISH_HEADROOM and PUBLISH_TAILROOM free around it. */
  publish: PublishFrame
  /** PUBLISH of a control frame. */
  publishControl: PublishFrame
  /** Whether a receiver count of 0 means nobody heard it (exact on one server, one shard's count on Redis Cluster). */
  exactReceivers: boolean
  /** Bytes of forwards per target node that Redis has not taken yet, past which their publishers are held. */
  backlogBytes: number
  /** How long a frame whose PUBLISH failed waits before it is sent again. */
  retryMs: number
  /** Forwards nobody heard (the node died, or its subscription is down). */
  unheard: (message: Message, deliveries: RemoteDelivery[]) => void
  failed: (error: unknown, action: string) => void
}

function flush(forwarding: Forwarding): void {
  forwarding.flush()
}

function retry(outbox: Outbox): void {
  outbox.retryTimer = undefined
  outbox.forwarding.resend(outbox)
}

/**
 * One frame of forwards and its PUBLISH. Answers come back in order, except failures: ioredis rejects what waits
 * offline before what it will still resend from a closed connection, so each frame hears its own answer.
 */
class SentFrame {
  constructor(
    readonly outbox: Outbox,
    readonly seq: number,
    readonly forwards: Forward[],
    readonly frame: Buffer,
    readonly bytes: number,
  ) {}

  readonly answered = (receivers: number): void => this.outbox.forwarding.answered(this, receivers)

  readonly failed = (error: unknown): void => this.outbox.forwarding.answered(this, undefined, error)
}

/** One target node's forwards: those waiting for the PUBLISH before them, the frames on their way, and those to resend. */
class Outbox {
  /** Not sent yet, in order, cut into frames of at most about FRAME_PAYLOAD_BYTES of payload. */
  queued: Forward[][] = []
  private queuedBytes = 0
  /** Frames whose PUBLISH is on its way. */
  readonly sent: SentFrame[] = []
  /** Frames whose PUBLISH failed, in sequence order: they go out again, unchanged, before anything queued. */
  readonly failed: SentFrame[] = []
  retryTimer: NodeJS.Timeout | undefined = undefined
  /** Bytes of forwards Redis has not taken yet (queued, on their way or failed), as counted for the bound. */
  backlog = 0
  /** Publishers held because the backlog was over its bound. */
  held: Set<Holdable> | null = null
  /** Waits for the next flush. */
  due = false

  constructor(
    readonly nodeId: string,
    readonly forwarding: Forwarding,
  ) {}

  add(forward: Forward): void {
    const size = forward.message.payload.length
    this.backlog += size + FORWARD_OVERHEAD_BYTES
    const last = this.queued[this.queued.length - 1]
    if (last && this.queuedBytes < FRAME_PAYLOAD_BYTES) {
      last.push(forward)
      this.queuedBytes += size
    } else {
      this.queued.push([forward])
      this.queuedBytes = size
    }
  }

  takeQueued(): Forward[][] {
    const queued = this.queued
    this.queued = []
    return queued
  }

  /** A frame failed: kept with the others that did, in sequence order, so that they go out again as first sent. */
  keep(sent: SentFrame): void {
    let at = this.failed.length
    while (at > 0 && (this.failed[at - 1] as SentFrame).seq > sent.seq) at--
    this.failed.splice(at, 0, sent)
  }

  hold(publisher: Holdable): void {
    const held = (this.held ??= new Set())
    if (held.has(publisher)) return
    held.add(publisher)
    publisher.hold()
  }

  /** Lets the held publishers go once the backlog is down to half its bound, so that they do not stop and start per frame. */
  releaseBelow(bytes: number): void {
    const held = this.held
    if (held === null || this.backlog > bytes) return
    this.held = null
    for (const publisher of held) publisher.release()
  }

  get idle(): boolean {
    return this.sent.length === 0 && this.failed.length === 0 && this.queued.length === 0 && this.held === null
  }
}

/**
 * Messages routed here for sessions connected to other nodes. Each target node has one PUBLISH on its way at a
 * time: what is forwarded to it meanwhile waits, and goes out as one frame once that PUBLISH is answered (at the
 * end of that event-loop turn, so that every socket read of the turn joins). With nothing on its way, a forward
 * goes out at the end of the turn it was made in. Whatever a PUBLISH carries, it costs about the same on both
 * nodes and in Redis (socket writes and reads, ioredis' command handling, Redis' dispatch), so under load the
 * frames grow instead of their number, and a quiet node waits for nothing. Frames to one node go out in order on
 * one connection, and Redis delivers a channel's messages in order, so the order per publisher holds.
 *
 * A message forwarded here may already be acknowledged to its publisher, so a frame whose PUBLISH fails (Redis
 * gone past ioredis' retries, a command timeout) is kept and sent again, unchanged and ahead of newer frames,
 * every `retryMs` until Redis takes it. Each frame carries this node's epoch and a sequence number, and the
 * receiver drops one it has already had (a PUBLISH that failed on a timeout or a closed connection may still have
 * reached Redis). While Redis does not take them, forwards pile up per target node; past `backlogBytes`, their
 * publishers are held, as a full session holds them, until half of it is gone.
 */
export class Forwarding {
  private readonly outboxes = new Map<string, Outbox>()
  private due: Outbox[] = []
  /** Tells this process' frames from those of an earlier process with the same node id. */
  readonly epoch = randomInt(2 ** 32)
  private seq = 0
  private stopping = false
  /** Stopping: called once Redis has answered every frame on its way. */
  private settled: (() => void) | null = null

  constructor(private readonly options: ForwardingOptions) {}

  forward(nodeId: string, message: Message, deliveries: RemoteDelivery[], publisher?: Holdable): void {
    let outbox = this.outboxes.get(nodeId)
    if (!outbox) {
      outbox = new Outbox(nodeId, this)
      this.outboxes.set(nodeId, outbox)
    }
    outbox.add({ message, deliveries })
    if (publisher !== undefined && outbox.backlog > this.options.backlogBytes) outbox.hold(publisher)
    if (outbox.sent.length === 0 && outbox.failed.length === 0) this.schedule(outbox)
  }

  /**
   * A control frame (release request or answer, hold or room) for `nodeId`, after the forwards already queued for
   * it: whatever it says about a session then holds for every message forwarded before it.
   */
  send(nodeId: string, frame: Buffer): Promise<number> {
    const outbox = this.outboxes.get(nodeId)
    if (outbox && (outbox.queued.length > 0 || outbox.failed.length > 0)) this.sendQueued(outbox, undefined)
    return this.options.publishControl(nodeId, frame)
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

  /**
   * Stopping: everything queued or failed goes out now, once. Resolves, once Redis has answered every frame or after
   * `waitMs`, with the forwards Redis did not take (their PUBLISH failed, or is still unanswered), which are no
   * longer this node's to send.
   */
  async stop(waitMs: number): Promise<Forward[]> {
    this.stopping = true
    this.due = []
    for (const outbox of this.outboxes.values()) {
      outbox.due = false
      this.sendQueued(outbox, undefined)
      outbox.releaseBelow(Number.POSITIVE_INFINITY)
    }
    if (!this.allAnswered()) {
      await within(new Promise<void>((resolve) => (this.settled = resolve)), waitMs)
      this.settled = null
    }
    const left: Forward[] = []
    for (const outbox of this.outboxes.values()) {
      for (const sent of [...outbox.failed, ...outbox.sent].sort((x, y) => x.seq - y.seq)) left.push(...sent.forwards)
      outbox.failed.length = 0
      outbox.sent.length = 0
    }
    this.outboxes.clear()
    return left
  }

  private allAnswered(): boolean {
    for (const outbox of this.outboxes.values()) if (outbox.sent.length > 0) return false
    return true
  }

  /** @internal a failed frame's wait is over. */
  resend(outbox: Outbox): void {
    if (outbox.sent.length === 0) this.sendQueued(outbox, undefined)
  }

  /** @internal Redis answered `sent`'s PUBLISH (`receivers` undefined: it failed). */
  answered(sent: SentFrame, receivers: number | undefined, error?: unknown): void {
    const outbox = sent.outbox
    const at = outbox.sent.indexOf(sent)
    // Given up on when the node stopped.
    if (at < 0) return
    outbox.sent.splice(at, 1)
    if (receivers === undefined) {
      outbox.keep(sent)
      this.options.failed(error, 'forward')
    } else {
      outbox.backlog -= sent.bytes
      outbox.releaseBelow(this.options.backlogBytes / 2)
      if (receivers === 0 && this.options.exactReceivers) for (const f of sent.forwards) this.options.unheard(f.message, f.deliveries)
    }
    if (this.settled !== null && this.allAnswered()) this.settled()
    if (outbox.sent.length > 0) return
    if (outbox.failed.length > 0) {
      if (!this.stopping) outbox.retryTimer ??= setTimeout(retry, this.options.retryMs, outbox).unref()
    } else if (outbox.queued.length > 0) this.schedule(outbox)
    // Idle: nothing keeps a node's outbox, so those of nodes gone are not kept either.
    else if (outbox.idle && this.outboxes.get(outbox.nodeId) === outbox) this.outboxes.delete(outbox.nodeId)
  }

  private schedule(outbox: Outbox): void {
    if (outbox.due) return
    outbox.due = true
    if (this.due.length === 0) setImmediate(flush, this)
    this.due.push(outbox)
  }

  private sendQueued(outbox: Outbox, written: Map<Message, Buffer> | undefined): void {
    if (outbox.retryTimer !== undefined) {
      clearTimeout(outbox.retryTimer)
      outbox.retryTimer = undefined
    }
    for (const sent of outbox.failed.splice(0)) this.publish(sent)
    for (const forwards of outbox.takeQueued()) {
      let bytes = 0
      for (const { message } of forwards) bytes += message.payload.length + FORWARD_OVERHEAD_BYTES
      const seq = ++this.seq
      this.publish(new SentFrame(outbox, seq, forwards, forwardsFrame(this.options.nodeId, this.epoch, seq, forwards, written, PUBLISH_ROOM), bytes))
    }
  }

  private publish(sent: SentFrame): void {
    sent.outbox.sent.push(sent)
    this.options.publish(sent.outbox.nodeId, sent.frame).then(sent.answered, sent.failed)
  }
}
