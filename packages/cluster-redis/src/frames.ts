import { decodeEnvelope, encodeEnvelope, messageFromHeader, messageHeader, type Message, type MessageHeader, type QoS, type RemoteDelivery } from '@wren/core'

/**
 * What travels on a node's own channel. Forwards are the hot path: one binary frame per PUBLISH carries every message
 * forwarded to that node since the last one (`Forwarding` says when), with fixed-width fields and no JSON (encoding JSON
 * headers and copying each payload twice was most of a forwarded message's cost on both nodes). Payload bytes go in
 * exactly as published.
 * The rare control frames (hand-over of a client, backpressure, messages queued in the store for a client connected
 * there) are a kind byte and a JSON header.
 */
export const FrameKind = { Forwards: 1, Release: 2, Released: 3, Hold: 4, Queued: 5 } as const
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind]

export interface Forward {
  message: Message
  deliveries: RemoteDelivery[]
}

/** Node `n` took client `c` over and waits for request `r` to be answered. */
export interface ReleaseHeader {
  c: string
  r: number
  n: string
}

export interface ReleasedHeader {
  r: number
}

/** Node `n`'s session `c` is full and holds the publishers of the node it is sent to (`h` 1), or has room again (0). */
export interface HoldHeader {
  n: string
  c: string
  h: 0 | 1
}

/** Messages were queued in the store for clients `c`, which the node this is sent to holds: it sends them on. */
export interface QueuedHeader {
  c: string[]
}

export type Frame =
  | { kind: typeof FrameKind.Forwards; from: string; epoch: number; seq: number; forwards: Forward[] }
  | { kind: typeof FrameKind.Release; header: ReleaseHeader }
  | { kind: typeof FrameKind.Released; header: ReleasedHeader }
  | { kind: typeof FrameKind.Hold; header: HoldHeader }
  | { kind: typeof FrameKind.Queued; header: QueuedHeader }

const EMPTY = Buffer.alloc(0)

// Message flags: the low two bits are the QoS.
const RETAIN = 0x04
const HAS_ID = 0x08
const HAS_ORIGIN = 0x10
const HAS_EXPIRY = 0x20
const HAS_PROPERTIES = 0x40
// Delivery flags: the low two bits are the QoS.
const HAS_SUBSCRIPTION_IDS = 0x08

/** At most what a string takes behind its length (UTF-8: up to 3 bytes per UTF-16 unit): frames are sized without measuring each string. */
const stringSize = (value: string): number => 2 + 3 * value.length

/** MQTT 5 properties, rare on this path, keep the store's JSON shape (correlation data as base64). */
function propertiesJson(message: Message): string | undefined {
  return message.properties ? JSON.stringify(messageHeader(message).properties) : undefined
}

function messageSize(message: Message, properties: string | undefined): number {
  let size = 1 + stringSize(message.topic) + 4 + message.payload.length
  if (message.id !== undefined) size += stringSize(message.id)
  if (message.origin !== undefined) size += stringSize(message.origin)
  if (message.expiresAt !== undefined) size += 8
  if (properties !== undefined) size += 4 + Buffer.byteLength(properties)
  return size
}

function deliveriesSize(deliveries: readonly RemoteDelivery[]): number {
  let size = 2
  for (const delivery of deliveries) {
    size += stringSize(delivery.clientId) + 1
    if (delivery.subscriptionIdentifiers) size += 1 + 4 * delivery.subscriptionIdentifiers.length
  }
  return size
}

class Writer {
  pos = 0
  constructor(readonly buffer: Buffer) {}

  // The frame was sized for everything written into it, so the writes skip Buffer's range checks.
  u8(value: number): void {
    this.buffer[this.pos++] = value
  }

  u16(value: number): void {
    this.buffer[this.pos++] = value >>> 8
    this.buffer[this.pos++] = value & 0xff
  }

  u32(value: number): void {
    this.buffer[this.pos++] = value >>> 24
    this.buffer[this.pos++] = (value >>> 16) & 0xff
    this.buffer[this.pos++] = (value >>> 8) & 0xff
    this.buffer[this.pos++] = value & 0xff
  }

  /** Topics and client ids are mostly short and ASCII: copied byte by byte, which costs less than a call into Buffer. */
  string(value: string): void {
    const buffer = this.buffer
    const start = this.pos + 2
    let length = 0
    while (length < value.length) {
      const code = value.charCodeAt(length)
      if (code > 0x7f) break
      buffer[start + length++] = code
    }
    if (length < value.length) length = buffer.write(value, start)
    if (length > 0xffff) throw new RangeError(`cluster frame string of ${length} bytes (at most 65535)`)
    this.u16(length)
    this.pos += length
  }

  f64(value: number): void {
    this.pos = this.buffer.writeDoubleBE(value, this.pos)
  }

  /** A string of any length, behind a 4-byte length. */
  text(value: string): void {
    const length = this.buffer.write(value, this.pos + 4)
    this.buffer.writeUInt32BE(length, this.pos)
    this.pos += 4 + length
  }

  bytes(value: Buffer): void {
    this.pos += value.copy(this.buffer, this.pos)
  }
}

class Reader {
  pos: number
  constructor(
    private readonly buffer: Buffer,
    start: number,
  ) {
    this.pos = start
  }

  u8(): number {
    return this.buffer.readUInt8(this.pos++)
  }

  u16(): number {
    const value = this.buffer.readUInt16BE(this.pos)
    this.pos += 2
    return value
  }

  u32(): number {
    const value = this.buffer.readUInt32BE(this.pos)
    this.pos += 4
    return value
  }

  f64(): number {
    const value = this.buffer.readDoubleBE(this.pos)
    this.pos += 8
    return value
  }

  string(): string {
    return this.utf8(this.u16())
  }

  text(): string {
    return this.utf8(this.u32())
  }

  private utf8(length: number): string {
    this.pos += length
    return this.buffer.toString('utf8', this.pos - length, this.pos)
  }

  /** A copy: a message kept in a queue must not pin the whole frame it came in. */
  bytes(length: number): Buffer {
    if (this.pos + length > this.buffer.length) throw new RangeError('cluster frame ends inside a payload')
    const copy = Buffer.allocUnsafe(length)
    this.pos += this.buffer.copy(copy, 0, this.pos, this.pos + length)
    return copy
  }
}

function writeMessage(out: Writer, message: Message, properties: string | undefined): void {
  let flags = message.qos | (message.retain ? RETAIN : 0)
  if (message.id !== undefined) flags |= HAS_ID
  if (message.origin !== undefined) flags |= HAS_ORIGIN
  if (message.expiresAt !== undefined) flags |= HAS_EXPIRY
  if (properties !== undefined) flags |= HAS_PROPERTIES
  out.u8(flags)
  out.string(message.topic)
  if (message.id !== undefined) out.string(message.id)
  if (message.origin !== undefined) out.string(message.origin)
  if (message.expiresAt !== undefined) out.f64(message.expiresAt)
  if (properties !== undefined) out.text(properties)
  out.u32(message.payload.length)
  out.bytes(message.payload)
}

function writeDeliveries(out: Writer, deliveries: readonly RemoteDelivery[]): void {
  out.u16(deliveries.length)
  for (const delivery of deliveries) {
    const ids = delivery.subscriptionIdentifiers
    out.string(delivery.clientId)
    out.u8(delivery.qos | (delivery.retain ? RETAIN : 0) | (ids ? HAS_SUBSCRIPTION_IDS : 0))
    if (ids) {
      out.u8(ids.length)
      for (const id of ids) out.u32(id)
    }
  }
}

function readForward(input: Reader): Forward {
  const flags = input.u8()
  const topic = input.string()
  const id = flags & HAS_ID ? input.string() : undefined
  const origin = flags & HAS_ORIGIN ? input.string() : undefined
  const expiresAt = flags & HAS_EXPIRY ? input.f64() : undefined
  const properties = flags & HAS_PROPERTIES ? input.text() : undefined
  const payload = input.bytes(input.u32())
  const qos = (flags & 3) as QoS
  const retain = (flags & RETAIN) !== 0
  let message: Message
  if (properties !== undefined) {
    const header: MessageHeader = { topic, qos, retain, properties: JSON.parse(properties) as MessageHeader['properties'] }
    message = messageFromHeader(header, payload)
  } else {
    message = { topic, payload, qos, retain }
  }
  if (id !== undefined) message.id = id
  if (origin !== undefined) message.origin = origin
  if (expiresAt !== undefined) message.expiresAt = expiresAt
  const count = input.u16()
  const deliveries: RemoteDelivery[] = []
  for (let i = 0; i < count; i++) {
    const clientId = input.string()
    const deliveryFlags = input.u8()
    const delivery: RemoteDelivery = { clientId, qos: (deliveryFlags & 3) as QoS, retain: (deliveryFlags & RETAIN) !== 0 }
    if (deliveryFlags & HAS_SUBSCRIPTION_IDS) {
      const ids: number[] = []
      for (let n = input.u8(); n > 0; n--) ids.push(input.u32())
      delivery.subscriptionIdentifiers = ids
    }
    deliveries.push(delivery)
  }
  return { message, deliveries }
}

/**
 * Every forward node `from` made to one node in one turn, in order: one buffer, written in one pass. With `written`
 * (shared by the frames of one flush), a message already encoded for another node is copied from that frame
 * rather than encoded again. `epoch` (per sending process) and `seq` (per frame) let the receiver drop a frame
 * sent again that it already had. With `room`, the frame's buffer keeps that many bytes free around it (for
 * `FramePublish`).
 */
export function forwardsFrame(from: string, epoch: number, seq: number, forwards: readonly Forward[], written?: Map<Message, Buffer>, room?: { before: number; after: number }): Buffer {
  const known = forwards.map(({ message }) => written?.get(message))
  const properties = forwards.map(({ message }, i) => (known[i] ? undefined : propertiesJson(message)))
  let size = 1 + stringSize(from) + 4 + 8 + 4
  for (let i = 0; i < forwards.length; i++) {
    const { message, deliveries } = forwards[i] as Forward
    size += (known[i]?.length ?? messageSize(message, properties[i])) + deliveriesSize(deliveries)
  }
  const before = room?.before ?? 0
  const out = new Writer(Buffer.allocUnsafe(before + size + (room?.after ?? 0)))
  out.pos = before
  out.u8(FrameKind.Forwards)
  out.string(from)
  out.u32(epoch)
  out.f64(seq)
  out.u32(forwards.length)
  for (let i = 0; i < forwards.length; i++) {
    const { message, deliveries } = forwards[i] as Forward
    const encoded = known[i]
    if (encoded) out.bytes(encoded)
    else {
      const start = out.pos
      writeMessage(out, message, properties[i])
      written?.set(message, out.buffer.subarray(start, out.pos))
    }
    writeDeliveries(out, deliveries)
  }
  return out.buffer.subarray(before, out.pos)
}

function controlFrame(kind: FrameKind, header: object): Buffer {
  return encodeEnvelope(header, EMPTY, Buffer.of(kind))
}

export function releaseFrame(header: ReleaseHeader): Buffer {
  return controlFrame(FrameKind.Release, header)
}

export function releasedFrame(header: ReleasedHeader): Buffer {
  return controlFrame(FrameKind.Released, header)
}

export function holdFrame(header: HoldHeader): Buffer {
  return controlFrame(FrameKind.Hold, header)
}

export function queuedFrame(header: QueuedHeader): Buffer {
  return controlFrame(FrameKind.Queued, header)
}

export function decodeFrame(value: Buffer): Frame {
  const kind = value.readUInt8(0) as FrameKind
  if (kind === FrameKind.Forwards) {
    const input = new Reader(value, 1)
    const from = input.string()
    const epoch = input.u32()
    const seq = input.f64()
    const forwards: Forward[] = []
    for (let n = input.u32(); n > 0; n--) forwards.push(readForward(input))
    return { kind, from, epoch, seq, forwards }
  }
  const { header } = decodeEnvelope<unknown>(value, 1)
  switch (kind) {
    case FrameKind.Release:
      return { kind, header: header as ReleaseHeader }
    case FrameKind.Released:
      return { kind, header: header as ReleasedHeader }
    case FrameKind.Hold:
      return { kind, header: header as HoldHeader }
    case FrameKind.Queued:
      return { kind, header: header as QueuedHeader }
    default:
      throw new Error(`unknown cluster frame kind ${String(kind)}`)
  }
}
