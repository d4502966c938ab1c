import { parser as createParser, type IPubackPacket, type IPublishPacket, type Packet } from 'mqtt-packet'
import { ErrorCode, ProtocolViolation, ReasonCode, malformed } from '../errors.js'
import { decodeConnectV4 } from './connect-packet.js'
import { varintLength, writeVarint } from './packet-encoder.js'
import { LARGE_PAYLOAD, markSplitPayload, type SplitPayload } from './split-payload.js'
import { decodeSubscribe, decodeUnsubscribe } from './subscription-packets.js'
import { earlyPropertyViolation, frameViolation, publishTopicViolation, type WireLimits } from './wire-rules.js'

const MAX_REMAINING_LENGTH_BYTES = 4
const CONNECT = 1
const PUBLISH = 3
const PUBACK = 4
const PUBREL = 6
const PUBCOMP = 7
const SUBSCRIBE = 8
const UNSUBSCRIBE = 10
const ACK_NAMES = ['puback', 'pubrec', 'pubrel', 'pubcomp'] as const
/** `pending` while nothing is: shared by every reader, never pushed to (bytes are kept through `keep` first). */
const NOTHING_PENDING: Buffer[] = []

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
 * Splits the byte stream into packets and parses them. The packets of the QoS 1/2 hot path, a PUBLISH without
 * properties (every 3.1/3.1.1 one) and a PUBACK, PUBREC, PUBREL or PUBCOMP without properties, are parsed here
 * directly from the chunk they arrived in; every other packet is handed whole to mqtt-packet's parser, whose
 * stream machinery (a buffer list, a debug call per state) allocates kilobytes per packet. Framing here also
 * lets an oversized packet be refused from its fixed header, before its body is buffered.
 */
export class PacketReader {
  /** The protocol level the shared parser must assume for this stream's packets. */
  protocolVersion = 4
  private pending: Buffer[] = NOTHING_PENDING
  private pendingBytes = 0
  /** Bytes needed before the buffered prefix can be framed again (0: unknown, retry on any chunk). */
  private needed = 0
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
        this.pending = NOTHING_PENDING
        this.pendingBytes = 0
      } else {
        const missing = this.needed - this.pendingBytes
        if (chunk.length < missing) {
          this.pending.push(chunk)
          this.pendingBytes += chunk.length
          return
        }
        // Only this packet's bytes are joined (a large PUBLISH's not even those): the packets after it are
        // read from the chunk where they lie, so a packet is copied at most once.
        const last = missing === chunk.length ? chunk : chunk.subarray(0, missing)
        const parts = this.pending
        this.pending = NOTHING_PENDING
        this.pendingBytes = 0
        if (!this.splitPublish(parts, last, chunk)) {
          parts.push(last)
          this.parse(Buffer.concat(parts, this.needed), 0)
        }
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
        const early = this.protocolVersion === 5 ? earlyPropertyViolation(buffer, pos, index, length, this.limits) : undefined
        if (early) this.fail(early)
        else this.keep(buffer, pos, end - pos)
        return
      }
      const header = buffer[pos] as number
      const type = header >> 4
      const direct = type === PUBLISH ? this.publish(buffer, header, index, end) : type >= PUBACK && type <= PUBCOMP && this.ack(buffer, header, index, end)
      if (!direct) this.parseWhole(buffer.subarray(pos, end), index - pos)
      pos = end
    }
  }

  /**
   * A large PUBLISH whose bytes are `parts` then `last` (the start of `chunk`): its headers are parsed from the
   * first part and its payload left where it lies. False, with nothing done, when it is not one or its headers
   * do not all lie in the first part: the caller joins the frame.
   */
  private splitPublish(parts: Buffer[], last: Buffer, chunk: Buffer): boolean {
    const first = parts[0] as Buffer
    const header = first[0] as number
    const total = this.needed
    if (header >> 4 !== 3 || total < LARGE_PAYLOAD) return false
    // The first part holds the whole fixed header: its length was known before the packet was kept.
    let bodyStart = 1
    while (((first[bodyStart] as number) & 0x80) !== 0) bodyStart++
    bodyStart++
    if (bodyStart + 2 > first.length) return false
    let end = bodyStart + 2 + first.readUInt16BE(bodyStart) + (((header >> 1) & 3) > 0 ? 2 : 0)
    if (this.protocolVersion === 5) {
      let propertiesLength = 0
      let multiplier = 1
      for (let n = 0; ; n++) {
        if (end >= first.length || n === MAX_REMAINING_LENGTH_BYTES) return false
        const byte = first[end++] as number
        propertiesLength += (byte & 0x7f) * multiplier
        multiplier *= 128
        if ((byte & 0x80) === 0) break
      }
      end += propertiesLength
    }
    if (end > first.length) return false
    // The headers alone, as a PUBLISH with an empty payload, go through the usual checks and parser.
    const remaining = end - bodyStart
    const head = Buffer.allocUnsafe(1 + varintLength(remaining) + remaining)
    head[0] = header
    const headBody = writeVarint(head, 1, remaining)
    first.copy(head, headBody, bodyStart, end)
    const payload: Buffer[] = end < first.length ? [first.subarray(end)] : []
    for (let i = 1; i < parts.length; i++) payload.push(parts[i] as Buffer)
    // The packet's last bytes share their read with the packets after it: copied when the read is mostly
    // theirs, so that a queued or retained message does not keep it.
    payload.push(last.length < chunk.length >> 1 ? Buffer.from(last) : last)
    const split = { parts: payload, length: total - end }
    if (!this.publish(head, header, headBody, head.length, split)) this.parseWhole(head, headBody, split)
    return true
  }

  private parseWhole(frame: Buffer, bodyStart: number, split: SplitPayload | null = null): void {
    const violation = frameViolation(frame, bodyStart, this.protocolVersion, this.limits)
    if (violation) return this.fail(violation)
    const type = (frame[0] as number) >> 4
    if (type === CONNECT) {
      const connect = decodeConnectV4(frame, bodyStart)
      if (connect !== null) {
        this.protocolVersion = connect.protocolVersion as number
        return this.sink.onPacket(connect)
      }
    }
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
    else if (split !== null) withSplitPayload(packet as IPublishPacket, split)
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

  /**
   * PUBLISH [MQTT-3.3], of MQTT 3.1/3.1.1 or an MQTT 5 one without properties (a property length of 0). False,
   * with nothing done, for an MQTT 5 PUBLISH with properties: the caller hands it to the parser.
   */
  private publish(buffer: Buffer, header: number, start: number, end: number, split: SplitPayload | null = null): boolean {
    const qos = (header >> 1) & 3
    if (qos === 3) {
      this.fail(malformed('Packet must not have both QoS bits set to 1')) // [MQTT-3.3.1-4]
      return true
    }
    if (end - start < 2) {
      this.fail(malformed('Cannot parse topic'))
      return true
    }
    const topicLength = buffer.readUInt16BE(start)
    let pos = start + 2 + topicLength
    if (pos + (qos > 0 ? 2 : 0) > end) {
      this.fail(malformed('Cannot parse topic'))
      return true
    }
    let messageId: number | undefined
    if (qos > 0) messageId = buffer.readUInt16BE(pos)
    const topicEnd = pos
    if (qos > 0) pos += 2
    if (this.protocolVersion === 5) {
      if (pos >= end || buffer[pos] !== 0) return false
      pos++
    }
    const topic = buffer.toString('utf8', start + 2, topicEnd)
    const violation = publishTopicViolation(buffer, header, topic, start + 2, topicEnd)
    if (violation) {
      this.fail(violation)
      return true
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
    if (split !== null) withSplitPayload(packet, split)
    this.sink.onPacket(packet)
    return true
  }

  /**
   * PUBACK, PUBREC, PUBREL or PUBCOMP [MQTT-3.4] to [MQTT-3.7] that is a packet id, or an MQTT 5 one with reason
   * code Success and no properties: the packet mqtt-packet would give. False, with nothing done, for any other
   * (flags, length, reason code or properties): the caller hands it to the parser, which checks and reports it.
   */
  private ack(buffer: Buffer, header: number, start: number, end: number): boolean {
    const length = end - start
    if (length !== 2 && (length !== 3 || this.protocolVersion !== 5 || buffer[start + 2] !== 0)) return false
    const type = header >> 4
    // [MQTT-2.2.2-1] reserved flags: 0010 for PUBREL, 0000 for the others
    if ((header & 0x0f) !== (type === PUBREL ? 2 : 0)) return false
    const packet = {
      cmd: ACK_NAMES[type - PUBACK] as (typeof ACK_NAMES)[number],
      retain: false,
      qos: (header >> 1) & 3,
      dup: false,
      length,
      topic: null,
      payload: null,
      messageId: buffer.readUInt16BE(start),
    } as Packet
    if (this.protocolVersion === 5) (packet as IPubackPacket).reasonCode = 0
    this.sink.onPacket(packet)
    return true
  }
}

function withSplitPayload(packet: IPublishPacket, split: SplitPayload): void {
  packet.length = (packet.length ?? 0) + split.length
  markSplitPayload(packet, split)
}
