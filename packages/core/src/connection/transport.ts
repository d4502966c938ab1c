import type { Packet } from 'mqtt-packet'
import type { Duplex } from 'node:stream'
import type { BrokerCore } from '../core.js'
import { callLater, callNextTick } from './deferred-call.js'
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
  this[kTransport].onStreamClosed()
}
function streamDrained(this: OwnedStream): void {
  this[kTransport].onDrain()
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
    this.ctx.stats.messagesSent++
    this.ctx.stats.packetSent(buffer[0] as number)
    this.packetsOut++
    this.writeBytes(buffer)
  }

  /** Writes bytes that are part of a packet already counted (a large payload written after its header). */
  protected writeBytes(buffer: Buffer): void {
    if (this.state === 'closed') return
    if (!this.corked) {
      this.corked = true
      this.stream.cork()
      callNextTick(this, 'uncork')
    }
    this.ctx.stats.bytesSent += buffer.length
    this.bytesOut += buffer.length
    this.written += buffer.length
    if (!this.stream.write(buffer) && this.stream.writableLength > this.ctx.options.maxSocketBuffer) this.becomeCongested()
  }

  uncork(): void {
    if (!this.corked) return
    this.corked = false
    this.stream.uncork()
  }

  /** Bytes written that the client has read off the socket: grows while it reads. */
  protected get bytesTaken(): number {
    return this.written - this.stream.writableLength
  }

  /** Flushes what is batched and ends the stream; called once, by the connection's close. */
  protected endStream(): void {
    this.uncork()
    this.stream.end()
    // A peer that never reads would keep end() pending forever: destroy after a grace period.
    callLater(DESTROY_GRACE_MS, this, 'destroyStream').unref()
  }

  destroyStream(): void {
    this.stream.destroy()
  }
}
