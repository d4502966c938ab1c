import type { Packet } from 'mqtt-packet'
import type { Duplex } from 'node:stream'
import type { BrokerCore } from '../core.js'
import { callLater } from './deferred-call.js'
import { PacketReader, type PacketSink } from './packet-reader.js'

/** Where a connection is in its life: the protocol layer moves it, every layer reads whether it is closed. */
export type ConnectionState = 'new' | 'connecting' | 'authenticating' | 'connected' | 'closed'

const kTransport = Symbol('wren.transport')
type OwnedStream = Duplex & { [kTransport]: Transport }

// Listeners shared by every stream (the emitter is `this`): an idle connection carries no closures for them.
function streamData(this: OwnedStream, chunk: Buffer): void {
  this[kTransport].onData(chunk)
}
function streamError(this: OwnedStream, error: Error): void {
  this[kTransport].onStreamError(error)
}
function streamClosed(this: OwnedStream): void {
  const transport = this[kTransport]
  if (lentPending.size !== 0) Transport.unpin(transport)
  transport.onStreamClosed()
}
function streamDrained(this: OwnedStream): void {
  this[kTransport].onDrain()
}

/**
 * Small packets (acks, most PUBLISHes) written in one tick are gathered in a region of a shared staging slab, and
 * the region itself is handed to the stream: one write request per connection per tick, no Buffer per ack and no
 * copy. A region starts at the size of its first packet (at least MIN_REGION) and doubles as it fills, in place
 * when it is the slab's last, moved otherwise, up to BATCH_REGION; a full one is written (corked) and a new one
 * begun. So one message to 10,000 subscribers takes 10,000 small regions, not 10,000 KiB. No byte of a slab is
 * written twice (a stream may hold its regions for as long as its peer is slow to read, as Node's own Buffer pool
 * is held): the garbage collector frees a slab with the last region a stream released.
 */
export const SMALL_WRITE = 256
const MIN_REGION = 64
const BATCH_REGION = 1024
const STAGING_BYTES = 64 * 1024
let staging = Buffer.allocUnsafeSlow(STAGING_BYTES)
let stagingUsed = 0

/** A region for `bytes`: the power of two at or above it, from MIN_REGION to BATCH_REGION. */
function regionSize(bytes: number): number {
  let size = MIN_REGION
  while (size < bytes && size < BATCH_REGION) size *= 2
  return size
}

/**
 * The last QoS 0 3.1.1 PUBLISH encoded into a batch, where it stays (a slab is never rewritten): every other
 * 3.1.1 subscriber of that message copies those bytes instead of encoding the same packet again.
 */
let sharedMessage: object | null = null
let sharedRetain = false
let sharedSlab: Buffer = staging
let sharedAt = 0

/** Copies `length` bytes between regions of the staging slabs: within one slab as a memmove (see `copyShared`). */
function copyBytes(from: Buffer, at: number, to: Buffer, toAt: number, length: number): void {
  if (from === to) to.copyWithin(toAt, at, at + length)
  else from.copy(to, toAt, at, at + length)
}

/**
 * A region lent to a stream whose write does not complete (its peer stopped reading, the kernel buffer is full) is
 * referenced until the peer reads, and with it its whole slab: clients stalled each in a different tick would keep
 * a 64 KiB slab each on top of what they hold (+66 KiB per stalled client in benchmarks/stalled-clients.js with
 * 4 KiB ticks). So such writes are counted at the end of their tick, a slab for each region they may hold, and past
 * MAX_LENT_SLABS every batch is copied, as for a stream already behind, until some of them have completed or their
 * streams closed: however many clients stall, lent regions keep at most 4 MiB of slabs alive, and everyone else
 * keeps lending while fewer are stalled. Smaller slabs would bound it per client instead, but 8 KiB ones cost about
 * 3 % of the broker in a profile of fan-out (a slab allocated per message); this costs one `writableLength` read per
 * flush.
 */
export const MAX_LENT_SLABS = 64
/** Streams whose lent regions were still waiting at the end of their tick: written by then, and the slabs counted. */
const lentPending = new Map<Transport, { until: number; slabs: number }>()
let lentSlabs = 0

/** Connections with writes waiting for the end of the tick: one tick flushes them all. */
const flushing: Transport[] = []

function flushAll(): void {
  // A flush may write to another connection (a drain handler): that one is pushed and flushed in this loop.
  try {
    for (let next = flushing.pop(); next !== undefined; next = flushing.pop()) next.flush()
  } finally {
    flushing.length = 0
  }
  if (lentSlabs >= MAX_LENT_SLABS) Transport.releaseLent()
}

/** How long a closing stream may wait for a peer that never reads before it is destroyed. */
const DESTROY_GRACE_MS = 1000

/**
 * The byte side of a connection: the stream and its listeners, packets read off it, writes batched per tick,
 * byte counters, and the end of the stream. What the packets mean and when they may be handled is the
 * business of the layers above (delivery-policy.ts, connection.ts).
 */
export abstract class Transport implements PacketSink {
  state: ConnectionState = 'new'
  /** The keepalive sweep's tick at which the client last sent a byte. */
  lastActivity = 0
  /** Per-connection traffic for the admin API: plain counters, read when someone asks. */
  bytesIn = 0
  bytesOut = 0
  packetsOut = 0
  protected readonly reader: PacketReader
  /** Bytes handed to the stream: with writableLength they tell how much the client has read. */
  protected written = 0
  private corked = false
  /** Waiting in `flushing` for the end of the tick. */
  private flushQueued = false
  /** This tick's small writes: `batch` (a slab, null when empty) from `batchStart` to `batchEnd`, room to `batchLimit`. */
  private batch: Buffer | null = null
  private batchStart = 0
  protected batchEnd = 0
  private batchLimit = 0
  /**
   * Regions of this tick's batch handed to the stream as they are, or -1: they are copied. Lent when the stream had
   * nothing waiting when the tick's first write came; a stream already behind gets copies, so a slow reader holds
   * at most a tick's regions, not a slab per tick it stays behind.
   */
  private lent = -1

  constructor(
    readonly ctx: BrokerCore,
    readonly stream: Duplex,
  ) {
    this.reader = new PacketReader(ctx.options, this)
    ;(stream as OwnedStream)[kTransport] = this
    stream.on('data', streamData)
    stream.on('error', streamError)
    stream.on('close', streamClosed)
    stream.on('end', streamClosed)
    stream.on('drain', streamDrained)
  }

  abstract onPacket(packet: Packet): void
  abstract onParseError(error: Error): void
  abstract onStreamError(error: Error): void
  abstract onStreamClosed(): void
  /** The stream's buffer went below its high-water mark. */
  abstract onDrain(): void
  /** A write left more than `maxSocketBuffer` bytes waiting in the stream. */
  protected abstract becomeCongested(): void

  onData(chunk: Buffer): void {
    this.ctx.stats.bytesReceived += chunk.length
    this.bytesIn += chunk.length
    this.lastActivity = this.ctx.keepalive.tick
    this.reader.push(chunk)
  }

  /** Writes one packet's bytes; writes made in the same tick reach the socket as one batch. */
  writeBuffer(buffer: Buffer): void {
    this.countPacket(buffer[0] as number)
    this.writeBytes(buffer)
  }

  /**
   * A four-byte ack (PUBACK, PUBREC, PUBREL or PUBCOMP without reason code or properties), written straight into
   * the tick's batch: no Buffer of its own per ack.
   */
  writeShortAck(first: number, packetId: number): void {
    this.countPacket(first)
    if (this.state === 'closed') return
    const batch = this.room(4)
    const at = this.batchEnd
    batch[at] = first
    batch[at + 1] = 2
    batch[at + 2] = packetId >> 8
    batch[at + 3] = packetId & 0xff
    this.batched(4)
  }

  /** The packet just encoded at `batchEnd` is part of the batch. */
  protected batchedPacket(length: number): void {
    this.countPacket((this.batch as Buffer)[this.batchEnd] as number)
    this.batched(length)
  }

  /**
   * Copies `message`'s QoS 0 3.1.1 PUBLISH (`length` bytes, the room taken) into the batch at `batchEnd` when it is
   * the one last shared, in this batch's slab; false when it must be encoded (then `shareEncoded` once it is).
   */
  protected copyShared(message: object, retain: boolean, length: number): boolean {
    const batch = this.batch as Buffer
    // Only from the same slab: `copyWithin` is a memmove, where `Buffer.copy` builds a view per call (0.3 to 1.2 µs
    // per 40-byte copy in the profile of fan-out QoS 0, 6 to 19 % of the broker).
    if (message !== sharedMessage || retain !== sharedRetain || sharedSlab !== batch) return false
    batch.copyWithin(this.batchEnd, sharedAt, sharedAt + length)
    return true
  }

  /** The QoS 0 3.1.1 PUBLISH just encoded at `batchEnd` is `message`'s for every 3.1.1 subscriber. */
  protected shareEncoded(message: object, retain: boolean): void {
    sharedMessage = message
    sharedRetain = retain
    sharedSlab = this.batch as Buffer
    sharedAt = this.batchEnd
  }

  private countPacket(first: number): void {
    this.ctx.stats.messagesSent++
    this.ctx.stats.packetSent(first)
    this.packetsOut++
  }

  /** Writes bytes that are part of a packet already counted (a large payload written after its header). */
  protected writeBytes(buffer: Buffer): void {
    if (this.state === 'closed') return
    if (buffer.length <= SMALL_WRITE) {
      buffer.copy(this.room(buffer.length), this.batchEnd)
      this.batched(buffer.length)
      return
    }
    // Written as it is, after what is batched, all corked: the batch (a large payload's header with it) and the
    // payload leave in one writev at the end of the tick.
    this.scheduleFlush()
    this.corkUntilFlush()
    this.flushBatch()
    if (this.stream.destroyed) return
    this.ctx.stats.bytesSent += buffer.length
    this.bytesOut += buffer.length
    this.written += buffer.length
    if (!this.stream.write(buffer) && this.stream.writableLength > this.ctx.options.maxSocketBuffer) this.becomeCongested()
  }

  /**
   * The staging slab holding this tick's batch, with room for `length` (at most SMALL_WRITE) more bytes at
   * `batchEnd`. A packet encoded there in place is then counted with `batchedPacket` (the connection is open:
   * callers check first).
   */
  protected room(length: number): Buffer {
    const batch = this.batch
    if (batch === null) {
      this.scheduleFlush()
      return this.takeRegion(regionSize(length))
    }
    return this.batchEnd + length <= this.batchLimit ? batch : this.grow(batch, length)
  }

  /** A region of `size` bytes of the staging slab for this connection's batch, empty. */
  private takeRegion(size: number): Buffer {
    if (stagingUsed + size > staging.length) {
      staging = Buffer.allocUnsafeSlow(STAGING_BYTES)
      stagingUsed = 0
    }
    this.batch = staging
    this.batchStart = this.batchEnd = stagingUsed
    stagingUsed += size
    this.batchLimit = stagingUsed
    return staging
  }

  /** Room for `length` more bytes once the region is full: it doubles, or, at BATCH_REGION, is written and a new one begun. */
  private grow(batch: Buffer, length: number): Buffer {
    const start = this.batchStart
    const used = this.batchEnd - start
    if (used + length <= BATCH_REGION) {
      const size = regionSize(used + length)
      if (batch === staging && this.batchLimit === stagingUsed && start + size <= staging.length) {
        stagingUsed = this.batchLimit = start + size
        return batch
      }
      const moved = this.takeRegion(size)
      copyBytes(batch, start, moved, this.batchStart, used)
      this.batchEnd = this.batchStart + used
      return moved
    }
    // A full region mid-tick is handed over corked: a burst still reaches the socket as one writev at the end
    // of the tick, not as a syscall per region.
    this.corkUntilFlush()
    this.flushBatch()
    return this.takeRegion(BATCH_REGION)
  }

  /** Writes until the end of the tick's flush are gathered by the stream and leave as one writev. */
  private corkUntilFlush(): void {
    if (this.corked) return
    this.corked = true
    this.stream.cork()
  }

  /** `length` bytes were put in the batch; a client already behind gets them at once, so congestion shows as before. */
  private batched(length: number): void {
    this.batchEnd += length
    this.ctx.stats.bytesSent += length
    this.bytesOut += length
    if (this.stream.writableLength + this.batchEnd - this.batchStart > this.ctx.options.maxSocketBuffer) this.flushBatch()
  }

  private scheduleFlush(): void {
    if (this.flushQueued) return
    this.flushQueued = true
    this.lent = lentSlabs < MAX_LENT_SLABS && this.stream.writableLength === 0 ? 0 : -1
    if (flushing.push(this) === 1) process.nextTick(flushAll)
  }

  /** Hands the batch to the stream as one write. */
  private flushBatch(): void {
    const batch = this.batch
    if (batch === null) return
    this.batch = null
    const start = this.batchStart
    const end = this.batchEnd
    if (end === start || this.stream.destroyed) return
    let bytes = batch.subarray(start, end)
    if (this.lent < 0) {
      // A Buffer of its own, not a piece of Node's 8 KiB pool: copies go to streams already behind, where they wait,
      // and each would keep its pool slab alive (arrayBuffers 52 against 111 KiB per stalled client with 52 KiB
      // waiting, in benchmarks/stalled-clients.js).
      bytes = Buffer.allocUnsafeSlow(end - start)
      batch.copy(bytes, 0, start, end)
    } else {
      this.lent++
    }
    this.written += bytes.length
    if (!this.stream.write(bytes) && this.stream.writableLength > this.ctx.options.maxSocketBuffer) this.becomeCongested()
  }

  /** The end of the tick: what is batched goes to the socket. */
  flush(): void {
    this.flushQueued = false
    this.flushBatch()
    if (this.corked) {
      this.corked = false
      this.stream.uncork()
    }
    if (this.lent > 0 && this.stream.writableLength > 0) this.pinLent()
  }

  /** This tick's lent regions wait in the stream: each may keep a slab of its own alive. */
  private pinLent(): void {
    Transport.unpin(this)
    lentPending.set(this, { until: this.written, slabs: this.lent })
    lentSlabs += this.lent
    this.lent = -1
  }

  /** Forgets what `transport`'s stream held of lent regions: written, or the stream is gone. */
  static unpin(transport: Transport): void {
    const pending = lentPending.get(transport)
    if (pending === undefined) return
    lentPending.delete(transport)
    lentSlabs -= pending.slabs
  }

  /** Forgets the lent regions that have left their streams since they were counted. */
  static releaseLent(): void {
    for (const [transport, pending] of lentPending) {
      if (transport.stream.destroyed || transport.written - transport.stream.writableLength >= pending.until) Transport.unpin(transport)
    }
  }

  /** Bytes written that the client has read off the socket: grows while it reads. */
  protected get bytesTaken(): number {
    return this.written - this.stream.writableLength
  }

  /** Flushes what is batched and ends the stream; called once, by the connection's close. */
  protected endStream(): void {
    this.flush()
    this.stream.end()
    // A peer that never reads would keep end() pending forever: destroy after a grace period.
    callLater(DESTROY_GRACE_MS, this, 'destroyStream').unref()
  }

  destroyStream(): void {
    this.stream.destroy()
  }
}
