import { parser as createParser, type IPublishPacket, type Packet } from 'mqtt-packet'
import { ErrorCode, ProtocolViolation, ReasonCode, malformed } from '../errors.js'
import { decodeSubscribe, decodeUnsubscribe } from './subscription-packets.js'
import { frameViolation, publishTopicViolation, type WireLimits } from './wire-rules.js'

const MAX_REMAINING_LENGTH_BYTES = 4
const SUBSCRIBE = 8
const UNSUBSCRIBE = 10

/** Where parsed packets and parse errors go (the connection). */
export interface PacketSink {
  onPacket(packet: Packet): void
  onParseError(error: Error): void
}

interface SharedParser {
  parse(buffer: Buffer): number
  settings: { protocolVersion?: number }
  on(event: 'packet', listener: (packet: Packet) => void): unknown
  on(event: 'error', listener: (error: Error) => void): unknown
}

/**
 * One mqtt-packet parser for every connection: it is only ever given whole packets, so it holds no
 * state between calls, and an idle connection does not carry a parser (with the CONNECT packet it
 * remembers as its settings) of its own.
 */
let shared: SharedParser | null = null
let parsed: Packet | null = null
let parseError: Error | null = null

function sharedParser(): SharedParser {
  if (!shared) {
    shared = createParser() as unknown as SharedParser
    shared.on('packet', (packet) => {
      parsed = packet
    })
    shared.on('error', (error) => {
      parseError = error
    })
  }
  return shared
}

/**
 * Splits the byte stream into packets and parses them. A 3.1/3.1.1 PUBLISH, the packet on the hot path,
 * is parsed here directly from the chunk it arrived in; every other packet (and every v5 PUBLISH, which
 * carries properties) is handed whole to mqtt-packet's parser. Framing here also lets an oversized packet
 * be refused from its fixed header, before its body is buffered.
 */
export class PacketReader {
  /** The protocol level the shared parser must assume for this stream's packets. */
  protocolVersion = 4
  private pending: Buffer[] = []
  private pendingBytes = 0
  /** Bytes needed before the buffered prefix can be framed again (0: unknown, retry on any chunk). */
  private needed = 0
  /** MQTT 5 PUBLISH packets carry properties: they go through mqtt-packet. */
  fastPublish = true
  private failed = false
  /** Largest packet accepted now: small until CONNECT is accepted (see `admitted`). */
  private maxPacketSize: number

  constructor(
    private readonly limits: WireLimits & { maxPacketSize: number; maxConnectPacketSize: number },
    private readonly sink: PacketSink,
  ) {
    this.maxPacketSize = Math.min(limits.maxPacketSize, limits.maxConnectPacketSize)
  }

  /** CONNECT was accepted: from now on packets up to the configured maximum are read. */
  admitted(): void {
    this.maxPacketSize = this.limits.maxPacketSize
  }

  private fail(error: Error | ProtocolViolation): void {
    if (this.failed) return
    this.failed = true
    this.sink.onParseError(error)
  }

  push(chunk: Buffer): void {
    if (this.failed) return
    let buffer = chunk
    let pos = 0
    if (this.pendingBytes > 0) {
      if (this.needed === 0) {
        // The fixed header itself was split: a few bytes, so joining them with the chunk is cheap and rare.
        buffer = Buffer.concat([...this.pending, chunk], this.pendingBytes + chunk.length)
        this.pending = []
        this.pendingBytes = 0
      } else {
        const missing = this.needed - this.pendingBytes
        if (chunk.length < missing) {
          this.pending.push(chunk)
          this.pendingBytes += chunk.length
          return
        }
        // Only this packet's bytes are joined: the packets after it are read from the chunk where they lie,
        // so a large packet is copied once, not again with everything that followed it.
        this.pending.push(missing === chunk.length ? chunk : chunk.subarray(0, missing))
        const frame = Buffer.concat(this.pending, this.needed)
        this.pending = []
        this.pendingBytes = 0
        this.parse(frame, 0)
        pos = missing
      }
    }
    this.parse(buffer, pos)
  }

  private parse(buffer: Buffer, from: number): void {
    const length = buffer.length
    let pos = from
    while (pos < length && !this.failed) {
      // Fixed header: type/flags byte, then the remaining length in 1..4 bytes [MQTT-2.2.3]
      let remaining = 0
      let multiplier = 1
      let index = pos + 1
      let complete = false
      for (let n = 0; n < MAX_REMAINING_LENGTH_BYTES && index < length; n++) {
        const byte = buffer[index++] as number
        remaining += (byte & 0x7f) * multiplier
        multiplier *= 128
        if ((byte & 0x80) === 0) {
          complete = true
          break
        }
        if (n === MAX_REMAINING_LENGTH_BYTES - 1) {
          this.fail(malformed('remaining length longer than four bytes'))
          return
        }
      }
      if (!complete) {
        this.keep(buffer, pos, 0)
        return
      }
      const end = index + remaining
      if (end - pos > this.maxPacketSize) {
        this.fail(new ProtocolViolation(ErrorCode.PacketTooLarge, ReasonCode.PacketTooLarge, `packet of ${end - pos} bytes exceeds the maximum packet size`))
        return
      }
      if (end > length) {
        this.keep(buffer, pos, end - pos)
        return
      }
      const header = buffer[pos] as number
      if (header >> 4 === 3 && this.fastPublish) this.publish(buffer, header, index, end)
      else this.parseWhole(buffer.subarray(pos, end), index - pos)
      pos = end
    }
  }

  private parseWhole(frame: Buffer, bodyStart: number): void {
    const violation = frameViolation(frame, bodyStart, this.protocolVersion, this.limits)
    if (violation) return this.fail(violation)
    const type = (frame[0] as number) >> 4
    if (type === SUBSCRIBE || type === UNSUBSCRIBE) {
      const decoded = type === SUBSCRIBE ? decodeSubscribe(frame, bodyStart, this.protocolVersion) : decodeUnsubscribe(frame, bodyStart, this.protocolVersion)
      return decoded instanceof ProtocolViolation ? this.fail(decoded) : this.sink.onPacket(decoded)
    }
    const parser = sharedParser()
    parser.settings = { protocolVersion: this.protocolVersion }
    parsed = null
    parseError = null
    const left = parser.parse(frame)
    const packet = parsed as Packet | null
    const error = parseError as Error | null
    parsed = null
    parseError = null
    if (error || !packet || left !== 0) {
      // mqtt-packet does not fully reset after an error (its read position survives): start a fresh one.
      shared = null
      // A whole frame either parses or fails: bytes left over mean the frame lied about its contents.
      return this.fail(error ?? malformed('packet shorter than its declared contents'))
    }
    if (packet.cmd === 'connect') this.protocolVersion = (packet as { protocolVersion?: number }).protocolVersion ?? 4
    this.sink.onPacket(packet)
  }

  private keep(buffer: Buffer, from: number, needed: number): void {
    const rest = buffer.subarray(from)
    // Copied when it is a small part of the chunk: a few leftover bytes must not pin a whole read chunk. Most
    // of a chunk (the start of a large packet) is kept as a view and copied once, when the packet is complete.
    this.pending = [rest.length > buffer.length >> 1 ? rest : Buffer.from(rest)]
    this.pendingBytes = rest.length
    this.needed = needed
  }

  /** PUBLISH of MQTT 3.1/3.1.1 [MQTT-3.3]. */
  private publish(buffer: Buffer, header: number, start: number, end: number): void {
    const qos = (header >> 1) & 3
    if (qos === 3) {
      this.fail(malformed('Packet must not have both QoS bits set to 1')) // [MQTT-3.3.1-4]
      return
    }
    if (end - start < 2) {
      this.fail(malformed('Cannot parse topic'))
      return
    }
    const topicLength = buffer.readUInt16BE(start)
    let pos = start + 2 + topicLength
    if (pos + (qos > 0 ? 2 : 0) > end) {
      this.fail(malformed('Cannot parse topic'))
      return
    }
    const topic = buffer.toString('utf8', start + 2, pos)
    const violation = publishTopicViolation(buffer, header, topic, start + 2, pos)
    if (violation) {
      this.fail(violation)
      return
    }
    let messageId: number | undefined
    if (qos > 0) {
      messageId = buffer.readUInt16BE(pos)
      pos += 2
    }
    // A copy, unless this packet is most of the buffer: a view would pin the whole read chunk for as long
    // as the message is retained or queued.
    const view = buffer.subarray(pos, end)
    const payload = end - start > buffer.length >> 1 ? view : Buffer.from(view)
    const packet: IPublishPacket = {
      cmd: 'publish',
      retain: (header & 1) === 1,
      qos: qos as 0 | 1 | 2,
      dup: (header & 8) === 8,
      length: end - start,
      topic,
      payload,
    }
    if (messageId !== undefined) packet.messageId = messageId
    this.sink.onPacket(packet)
  }
}
