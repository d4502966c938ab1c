import { Deque } from '../session/deque.js'

/** What the acks are written to (the connection). */
export interface AckWriter {
  writeAck(kind: 'puback' | 'pubrec', packetId: number, reasonCode?: number, reason?: string): void
  /** A v3 client whose message could not be stored gets no ack: its connection ends and it resends on reconnect. */
  close(reason: 'store-failed'): void
}

/** Reason code of a slot whose message could not be stored on a v3 connection: the connection closes there. */
export const STORE_FAILED = -1

/** The place of one inbound PUBLISH's ack while its message is being stored. */
export class AckSlot {
  settled = false
  reasonCode = 0
  reason: string | undefined = undefined
  /** Runs once the ack is written (or the connection closed in its place): the publisher's own copy. */
  after: (() => void) | null = null
  constructor(
    readonly kind: 'puback' | 'pubrec',
    readonly packetId: number,
  ) {}
}

/**
 * How many QoS 1 PUBLISHes of one connection may be waiting for the store at once: the next one is handled only
 * when an earlier ack has gone out. Twenty publishers then share a commit or a Redis round trip of up to 320
 * messages; with 128 the turns grew so long that a subscriber's own acks waited seconds behind them.
 */
export const MAX_STORING = 16

/**
 * PUBACK and PUBREC in the order the PUBLISHes arrived [MQTT-4.6.0-2] [MQTT-4.6.0-3], while a connection hands
 * several messages to the store without waiting for each: stores settle in call order, but a message with a
 * retained copy and one without settle through different promise chains, so the order is kept here, not assumed.
 * An ack with nothing waiting ahead of it is written at once, with no slot.
 */
export class OrderedAcks {
  private readonly slots = new Deque<AckSlot>()
  /** A handler's `done` that waits for an ack to go out because MAX_STORING messages are being stored. */
  private resume: (() => void) | null = null
  private failed = false

  constructor(private readonly writer: AckWriter) {}

  get waiting(): number {
    return this.slots.length
  }

  /** An ack that is ready: written now, or queued behind acks still waiting for their messages to be stored. */
  write(kind: 'puback' | 'pubrec', packetId: number, reasonCode: number, reason?: string): void {
    if (this.slots.length === 0) {
      this.writer.writeAck(kind, packetId, reasonCode, reason)
      return
    }
    // The head is never settled while it waits (flush writes it at once), so this one just queues.
    const slot = new AckSlot(kind, packetId)
    slot.settled = true
    slot.reasonCode = reasonCode
    slot.reason = reason
    this.slots.push(slot)
  }

  /** Keeps the place of an ack whose message is still being stored; `settle` it once it is. */
  reserve(kind: 'puback' | 'pubrec', packetId: number): AckSlot {
    const slot = new AckSlot(kind, packetId)
    this.slots.push(slot)
    return slot
  }

  /**
   * Lets the connection read on (`done`) unless MAX_STORING messages are being stored; then `done` waits for the
   * oldest one's ack.
   */
  admit(done: () => void): void {
    if (this.slots.length < MAX_STORING) done()
    else this.resume = done
  }

  /**
   * The message is stored (or failed with `STORE_FAILED`): its ack, and any ready behind it, go out in order, each
   * followed by its `after`.
   */
  settle(slot: AckSlot, reasonCode: number, reason?: string, after: (() => void) | null = null): void {
    slot.settled = true
    slot.reasonCode = reasonCode
    slot.reason = reason
    slot.after = after
    this.flush()
  }

  private flush(): void {
    const slots = this.slots
    for (let head = slots.peek(); head !== undefined && head.settled; head = slots.peek()) {
      slots.shift()
      // From the first refused message on, nothing more is acknowledged: the connection ends there.
      if (head.reasonCode === STORE_FAILED) this.failed = true
      if (this.failed) this.writer.close('store-failed')
      else this.writer.writeAck(head.kind, head.packetId, head.reasonCode, head.reason)
      head.after?.()
    }
    const resume = this.resume
    if (resume !== null && !this.failed && slots.length < MAX_STORING) {
      this.resume = null
      resume()
    }
  }
}
