/** What an enqueue that lost nothing resolves to; frozen because every such caller shares it. */
const NOTHING_LOST: readonly string[] = Object.freeze([])

/** How many writes one batch takes before it is sent without waiting: a script blocks Redis while it runs. */
const MAX_WRITES_PER_BATCH = 500

/**
 * How many bytes (as estimated) one batch takes by default before it is sent without waiting. Its writes travel as
 * one argument, and Redis refuses an argument over 512 MB (`proto-max-bulk-len`): a few large payloads in one
 * batch would pass that where a full batch of small ones is about 100 KiB. One message is at most 256 MB (MQTT's limit).
 */
export const MAX_BYTES_PER_BATCH = 16 * 1024 * 1024

/**
 * How long (ms) the batch in flight may go unanswered before the next one is sent anyway. A batch's round trip
 * is a few ms, and under 250 ms even with the broker on a fifth of a loaded core; at 50 ms a quarter of the
 * batches went early there, smaller, with fewer writes called off and more CPU per message. So this only acts
 * when Redis is slow or has stopped answering.
 */
const OVERDUE_MS = 250

/**
 * What an enqueue packs to besides its topic, payload and targets (its fields and the message's JSON header), what
 * each target adds, and what any other write packs to, with room to spare: a batch's packing starts that large.
 */
const ENQUEUE_BYTES = 256
const TARGET_BYTES = 64
const WRITE_BYTES = 96

import type { Message, OutboundTarget } from '@wren/core'
import { PackedFields } from './packed-fields.js'

type Arg = string | Buffer | number
type Field = string | number
/** A message stands in `fields` for its encoding until the batch is sent: one called off is never encoded. */
type Gathered = Field | Message

/**
 * The key of a client's message id or packet id. The client id is length-prefixed: client ids from gateways and
 * in-process clients may hold any character, so a separator alone would let one pair pose as another.
 */
function deliveryKey(clientId: string, id: string | number): string {
  return `${clientId.length}:${clientId}${id}`
}

interface PendingEnqueue {
  /** Its write number in the batch (from 1), or 0 once it was called off. */
  write: number
  resolve: (lost: string[]) => void
  reject: (error: unknown) => void
}

/**
 * A delivery marked sent in this batch: the write that did, and the one-client enqueue of this batch it follows (0
 * when the message was queued before). If its ack joins the batch, both are called off; with no enqueue to call
 * off, the ack becomes a remove by message id, which leaves the queue as the sent and the ack would have.
 */
interface Delivery {
  enqueue: number
  sent: number
  messageId: string
}

function packFields(into: PackedFields, fields: Gathered[], start: number, end: number, encode: (message: Message, into: PackedFields) => void): void {
  for (let i = start; i < end; i++) {
    const field = fields[i] as Gathered
    if (typeof field === 'string') into.string(field)
    else if (typeof field === 'number') into.number(field)
    else encode(field, into)
  }
}

class Batch {
  writes = 0
  /** About what the writes pack to, so that packing rarely has to grow its buffer (`PackedFields`). */
  bytes = 0
  readonly fields: Gathered[] = []
  /** Where each write starts in `fields`, by write number less one. */
  readonly starts: number[] = []
  /** Write numbers that were called off: their fields are left out when the batch is sent. */
  readonly cancelled = new Set<number>()
  readonly enqueues: PendingEnqueue[] = []
  /** One-client enqueues by client and message id, then by client and packet id once marked sent (`deliveryKey`). */
  readonly byMessage = new Map<string, Delivery>()
  readonly byPacket = new Map<string, Delivery>()
  readonly applied: Promise<void>
  resolve!: () => void
  reject!: (error: unknown) => void

  constructor() {
    this.applied = new Promise<void>((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
    // Callers get `applied` or an enqueue promise: a batch of enqueues alone must not leave it unhandled.
    this.applied.catch(() => {})
  }

  /** Starts a write: returns its number. */
  begin(bytes: number): number {
    this.bytes += bytes
    this.starts.push(this.fields.length)
    return ++this.writes
  }

  /**
   * Packs the writes not called off into `into`, messages encoded by `encode`; renumbers the remaining enqueues
   * and returns how many there are.
   */
  pack(into: PackedFields, encode: (message: Message, into: PackedFields) => void): number {
    if (this.cancelled.size === 0) {
      packFields(into, this.fields, 0, this.fields.length, encode)
      return this.enqueues.length
    }
    const renumbered = new Map<number, number>()
    let kept = 0
    for (let write = 1; write <= this.writes; write++) {
      if (this.cancelled.has(write)) continue
      renumbered.set(write, ++kept)
      const end = write < this.writes ? (this.starts[write] as number) : this.fields.length
      packFields(into, this.fields, this.starts[write - 1] as number, end, encode)
    }
    let enqueues = 0
    for (const enqueue of this.enqueues) {
      enqueue.write = renumbered.get(enqueue.write) ?? 0
      if (enqueue.write !== 0) enqueues++
    }
    return enqueues
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
 * Gathers the queue writes (enqueue, sent, released, ack, remove) into one call of the batch script. While a
 * batch is in flight, the writes made meanwhile wait for its reply and go together in the next, so a loaded
 * Redis gets fewer, larger calls; but once the oldest batch in flight is overdue (`OVERDUE_MS`), the next is
 * sent without waiting, so a write waits at most that long before its own command is sent (and its own
 * `commandTimeout` starts) when Redis stops answering. Sending before a reply changes nothing about order or
 * failure: Redis runs one connection's commands in the order sent, and a failed batch never held back the next
 * one. A batch is also sent at once when it is full or before any other command (so that every call still
 * takes effect in the order it was made). Each write's promise settles when Redis has applied its batch.
 *
 * A message enqueued for one client, marked sent and acknowledged before its batch left is never written: the
 * three writes are called off, as its subscriber has it and nothing about it is left to survive a crash; their
 * promises still settle with the batch, so a publisher's PUBACK waits as before. A message queued before, marked
 * sent and acknowledged in one batch (a resumed session's backlog) is removed by its id instead: one write where
 * the sent and the ack were two.
 *
 * A script error fails every write of its batch; Redis does not undo the writes the script made before the
 * error, as it did not for a failed single-write script either.
 */
export class WriteBatch {
  private batch: Batch | null = null
  private sendScheduled = false
  /** When each batch in flight was sent (`performance.now()`), oldest first: Redis answers in that order. */
  private readonly sentAt: number[] = []
  private overdueTimer: NodeJS.Timeout | null = null
  private readonly sendTurn = (): void => {
    this.sendScheduled = false
    this.sendUnlessWaiting()
  }
  private readonly sendOverdue = (): void => {
    this.overdueTimer = null
    this.sendUnlessWaiting()
  }

  /**
   * @param head the script's fixed leading arguments (key prefixes)
   * @param run sends the batch script with these arguments, resolving to its reply
   * @param encode packs a message as stored
   * @param delivery a target's per-client delivery options as stored
   * @param maxBytes about how many bytes of writes a batch takes before it is sent without waiting
   */
  constructor(
    private readonly head: readonly Arg[],
    private readonly run: (args: Arg[]) => Promise<unknown>,
    private readonly encode: (message: Message, into: PackedFields) => void,
    private readonly delivery: (target: OutboundTarget) => string,
    private readonly maxBytes = MAX_BYTES_PER_BATCH,
  ) {}

  /** `message` must have its id. */
  enqueue(targets: OutboundTarget[], message: Message, limit: number, dropOldest: boolean, byteLimit: number): Promise<string[]> {
    const batch = this.open()
    const write = batch.begin(ENQUEUE_BYTES + TARGET_BYTES * targets.length + 3 * message.topic.length + message.payload.length)
    const fields = batch.fields
    const messageId = message.id as string
    fields.push('E', targets.length, messageId, message, limit, dropOldest ? 1 : 0, byteLimit, message.payload.length)
    for (const target of targets) fields.push(target.clientId, this.delivery(target))
    if (targets.length === 1) batch.byMessage.set(deliveryKey((targets[0] as OutboundTarget).clientId, messageId), { enqueue: write, sent: 0, messageId })
    const lost = new Promise<string[]>((resolve, reject) => batch.enqueues.push({ write, resolve, reject }))
    this.sendIfFull(batch)
    return lost
  }

  sent(clientId: string, messageId: string, packetId: number): Promise<void> {
    const batch = this.open()
    const write = batch.begin(WRITE_BYTES)
    batch.fields.push('S', clientId, messageId, packetId)
    const key = deliveryKey(clientId, messageId)
    const delivery = batch.byMessage.get(key)
    if (delivery !== undefined) {
      batch.byMessage.delete(key)
      delivery.sent = write
      batch.byPacket.set(deliveryKey(clientId, packetId), delivery)
    } else {
      batch.byPacket.set(deliveryKey(clientId, packetId), { enqueue: 0, sent: write, messageId })
    }
    this.sendIfFull(batch)
    return batch.applied
  }

  released(clientId: string, packetId: number): Promise<void> {
    // A QoS 2 delivery is not called off by its PUBCOMP's ack: its released state stays written in between.
    const batch = this.open()
    batch.byPacket.delete(deliveryKey(clientId, packetId))
    return this.append(batch, 'R', clientId, packetId)
  }

  ack(clientId: string, packetId: number): Promise<void> {
    const batch = this.open()
    const key = deliveryKey(clientId, packetId)
    const delivery = batch.byPacket.get(key)
    if (delivery !== undefined) {
      batch.byPacket.delete(key)
      batch.cancelled.add(delivery.sent)
      if (delivery.enqueue === 0) return this.append(batch, 'X', clientId, delivery.messageId)
      batch.cancelled.add(delivery.enqueue)
      return batch.applied
    }
    return this.append(batch, 'A', clientId, packetId)
  }

  remove(clientId: string, messageId: string): Promise<void> {
    const batch = this.open()
    batch.byMessage.delete(deliveryKey(clientId, messageId))
    return this.append(batch, 'X', clientId, messageId)
  }

  /** Sends what is gathered: call before any other command, so it reaches Redis after the writes made before it. */
  flush(): void {
    const batch = this.batch
    if (batch === null) return
    this.batch = null
    if (this.overdueTimer !== null) {
      clearTimeout(this.overdueTimer)
      this.overdueTimer = null
    }
    this.sentAt.push(performance.now())
    const packed = new PackedFields(batch.bytes)
    const enqueues = batch.pack(packed, this.encode)
    const writes = packed.finish()
    this.run([...this.head, enqueues, writes]).then(
      (reply) => {
        this.answered()
        batch.settle(reply as Arg[])
      },
      (error: unknown) => {
        this.answered()
        batch.fail(error)
      },
    )
  }

  /** A batch is answered: once none is in flight, the writes gathered meanwhile go. */
  private answered(): void {
    this.sentAt.shift()
    if (this.sentAt.length === 0) this.flush()
  }

  /** Sends the gathered batch unless it should wait for the reply to one in flight that is not overdue yet. */
  private sendUnlessWaiting(): void {
    if (this.batch === null) return
    const oldest = this.sentAt[0]
    const wait = oldest === undefined ? 0 : oldest + OVERDUE_MS - performance.now()
    if (wait <= 0) this.flush()
    else this.overdueTimer ??= setTimeout(this.sendOverdue, wait)
  }

  private open(): Batch {
    if (this.batch !== null) return this.batch
    this.batch = new Batch()
    if (!this.sendScheduled) {
      this.sendScheduled = true
      setImmediate(this.sendTurn)
    }
    return this.batch
  }

  /** One write of a client's id (a message id or packet id) whose only outcome is the batch being applied. */
  private append(batch: Batch, kind: string, clientId: string, id: Field): Promise<void> {
    batch.begin(WRITE_BYTES)
    batch.fields.push(kind, clientId, id)
    this.sendIfFull(batch)
    return batch.applied
  }

  private sendIfFull(batch: Batch): void {
    if (batch.writes >= MAX_WRITES_PER_BATCH || batch.bytes >= this.maxBytes) this.flush()
  }
}
