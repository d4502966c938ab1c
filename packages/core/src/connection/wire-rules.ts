import { isUtf8 } from 'node:buffer'
import { ErrorCode, ProtocolViolation, ReasonCode, malformed, protocolError } from '../errors.js'

/**
 * Byte-level rules that mqtt-packet's parser does not enforce (it decodes strings leniently, merges
 * duplicated properties and ignores bytes a packet should not have). Checked on the whole frame before it
 * is parsed, so a rule is judged on what the client sent, not on what a lenient decoder made of it.
 * Frames too short for their fields are left to the parser, which reports them.
 */

/** Packets only a server sends: well-formed, but not allowed from a client (MQTT 5 §4.13: a Protocol Error). */
const SERVER_ONLY: Readonly<Record<number, string>> = { 2: 'CONNACK', 9: 'SUBACK', 11: 'UNSUBACK', 13: 'PINGRESP' }

const Kind = { Byte: 0, Int16: 1, Int32: 2, Varint: 3, Text: 4, Binary: 5, Pair: 6 } as const
type Kind = (typeof Kind)[keyof typeof Kind]

/** Property identifier -> its value's encoding (MQTT 5 §2.2.2.2). */
const PROPERTY_KIND: ReadonlyMap<number, Kind> = new Map([
  [1, Kind.Byte], [2, Kind.Int32], [3, Kind.Text], [8, Kind.Text], [9, Kind.Binary], [11, Kind.Varint],
  [17, Kind.Int32], [18, Kind.Text], [19, Kind.Int16], [21, Kind.Text], [22, Kind.Binary], [23, Kind.Byte],
  [24, Kind.Int32], [25, Kind.Byte], [26, Kind.Text], [28, Kind.Text], [31, Kind.Text], [33, Kind.Int16],
  [34, Kind.Int16], [35, Kind.Int16], [36, Kind.Byte], [37, Kind.Byte], [38, Kind.Pair], [39, Kind.Int32],
  [40, Kind.Byte], [41, Kind.Byte], [42, Kind.Byte],
])

const USER_PROPERTY = 38

/** Which properties each packet a client sends may carry; any other is a Malformed Packet (§2.2.2.2). */
const ALLOWED = {
  connect: new Set([17, 33, 39, 34, 25, 23, 38, 21, 22]),
  will: new Set([24, 1, 2, 3, 8, 9, 38]),
  publish: new Set([1, 2, 35, 8, 9, 38, 11, 3]),
  ack: new Set([31, 38]),
  subscribe: new Set([11, 38]),
  unsubscribe: new Set([38]),
  disconnect: new Set([17, 31, 38, 28]),
  auth: new Set([21, 22, 31, 38]),
} as const

type PropertyContext = keyof typeof ALLOWED

export interface WireLimits {
  /** User Properties accepted in one property list. */
  maxUserProperties: number
}

/** Thrown inside the walk; caught once at its top. */
class Stop {
  constructor(readonly violation: ProtocolViolation | null) {}
}

const SHORT = new Stop(null)

/** A read position over one frame; every read checks the frame's end and stops the walk when it is passed. */
class Walk {
  pos: number
  constructor(
    readonly frame: Buffer,
    start: number,
    readonly end: number,
    readonly limits: WireLimits,
  ) {
    this.pos = start
  }

  need(bytes: number): void {
    if (this.pos + bytes > this.end) throw SHORT
  }

  byte(): number {
    this.need(1)
    return this.frame[this.pos++] as number
  }

  int16(): number {
    this.need(2)
    const value = this.frame.readUInt16BE(this.pos)
    this.pos += 2
    return value
  }

  varint(): number {
    let value = 0
    let multiplier = 1
    for (let i = 0; i < 4; i++) {
      const byte = this.byte()
      value += (byte & 0x7f) * multiplier
      if ((byte & 0x80) === 0) return value
      multiplier *= 128
    }
    throw new Stop(malformed('variable byte integer longer than four bytes'))
  }

  binary(): void {
    const length = this.int16()
    this.need(length)
    this.pos += length
  }

  /** A UTF-8 Encoded String: well-formed, no U+0000 [MQTT-1.5.4-1] [MQTT-1.5.4-2]. */
  text(what: string): void {
    const length = this.int16()
    this.need(length)
    const start = this.pos
    this.pos += length
    const violation = textViolation(this.frame, start, this.pos, what)
    if (violation) throw new Stop(violation)
  }

  /** A v5 property list: known, allowed here, each at most once except User Property, strings checked. */
  properties(context: PropertyContext): void {
    const length = this.varint()
    this.need(length)
    const end = this.pos + length
    const allowed = ALLOWED[context]
    let seenLow = 0
    let seenHigh = 0
    let userProperties = 0
    while (this.pos < end) {
      const id = this.byte()
      const kind = PROPERTY_KIND.get(id)
      if (kind === undefined || !allowed.has(id)) throw new Stop(malformed(`property ${id} is not allowed in ${context}`))
      if (id === USER_PROPERTY) {
        if (++userProperties > this.limits.maxUserProperties) throw new Stop(tooManyUserProperties(this.limits))
      } else if (id < 32) {
        if (seenLow & (1 << id)) throw new Stop(protocolError(`property ${id} included more than once`))
        seenLow |= 1 << id
      } else {
        if (seenHigh & (1 << (id - 32))) throw new Stop(protocolError(`property ${id} included more than once`))
        seenHigh |= 1 << (id - 32)
      }
      switch (kind) {
        case Kind.Byte:
          this.byte()
          break
        case Kind.Int16:
          this.int16()
          break
        case Kind.Int32:
          this.need(4)
          this.pos += 4
          break
        case Kind.Varint:
          this.varint()
          break
        case Kind.Text:
          this.text(`property ${id}`)
          break
        case Kind.Binary:
          this.binary()
          break
        case Kind.Pair:
          this.text('user property name')
          this.text('user property value')
          break
      }
    }
    if (this.pos !== end) throw new Stop(malformed('property list overruns its length'))
  }
}

/** Bytes a property's value takes at `pos` (its identifier read), or undefined when they are not all in `frame[..end)`. */
function valueLength(kind: Kind, frame: Buffer, pos: number, end: number): number | undefined {
  switch (kind) {
    case Kind.Byte:
      return 1
    case Kind.Int16:
      return 2
    case Kind.Int32:
      return 4
    case Kind.Varint: {
      for (let i = 0; i < 4 && pos + i < end; i++) if (((frame[pos + i] as number) & 0x80) === 0) return i + 1
      return undefined
    }
    case Kind.Text:
    case Kind.Binary:
      return pos + 2 <= end ? 2 + frame.readUInt16BE(pos) : undefined
    case Kind.Pair: {
      if (pos + 2 > end) return undefined
      const value = pos + 2 + frame.readUInt16BE(pos)
      return value + 2 <= end ? value + 2 + frame.readUInt16BE(value) - pos : undefined
    }
  }
}

/**
 * The first bytes of an MQTT 5 packet still arriving, `frame[start..end)` (its body from `bodyStart`): a violation
 * when the User Properties among them already pass the cap, so that a packet of thousands is refused from its first
 * read rather than once all of it is buffered. Whatever else is wrong, or lies beyond `end`, is left to
 * `frameViolation` on the whole frame.
 */
export function earlyPropertyViolation(frame: Buffer, start: number, bodyStart: number, end: number, limits: WireLimits): ProtocolViolation | undefined {
  const header = frame[start] as number
  const type = header >> 4
  let pos = bodyStart
  if (type === 3) pos += 2 + (end >= pos + 2 ? frame.readUInt16BE(pos) : 0) + ((header & 0x06) === 0 ? 0 : 2)
  else if (type >= 4 && type <= 7) pos += 3
  else if (type === 8 || type === 10) pos += 2
  else if (type === 14 || type === 15) pos += 1
  else return undefined
  let listEnd = 0
  let multiplier = 1
  for (let i = 0; ; i++) {
    if (i === 4 || pos >= end) return undefined
    const byte = frame[pos++] as number
    listEnd += (byte & 0x7f) * multiplier
    multiplier *= 128
    if ((byte & 0x80) === 0) break
  }
  listEnd = Math.min(end, pos + listEnd)
  let userProperties = 0
  while (pos < listEnd) {
    const id = frame[pos++] as number
    const kind = PROPERTY_KIND.get(id)
    if (kind === undefined) return undefined
    const length = valueLength(kind, frame, pos, listEnd)
    if (length === undefined) return undefined
    pos += length
    if (id === USER_PROPERTY && ++userProperties > limits.maxUserProperties) return tooManyUserProperties(limits)
  }
  return undefined
}

function tooManyUserProperties(limits: WireLimits): ProtocolViolation {
  return new ProtocolViolation(ErrorCode.TooManyUserProperties, ReasonCode.QuotaExceeded, `more than ${limits.maxUserProperties} user properties`)
}

const USERNAME_FLAG = 0x80
const PASSWORD_FLAG = 0x40
const WILL_FLAG = 0x04

/**
 * What is wrong with a whole frame, or undefined. `bodyStart` is the index after the remaining length;
 * `version` the protocol level of the stream (ignored for CONNECT, which names its own).
 */
export function frameViolation(frame: Buffer, bodyStart: number, version: number, limits: WireLimits): ProtocolViolation | undefined {
  const type = (frame[0] as number) >> 4
  const remaining = frame.length - bodyStart
  const walk = new Walk(frame, bodyStart, frame.length, limits)
  try {
    switch (type) {
      case 1:
        checkConnect(walk)
        return undefined
      case 3:
        checkPublish(walk, frame[0] as number, version)
        return undefined
      case 4:
      case 5:
      case 6:
      case 7:
        // PUBACK, PUBREC, PUBREL, PUBCOMP: a packet id, then (v5 only) reason code and properties [MQTT-3.4.2] ...
        if (version < 5 ? remaining !== 2 : remaining < 2) return malformed(`acknowledgement with a remaining length of ${remaining}`)
        if (remaining >= 4) {
          walk.pos += 3
          walk.properties('ack')
        }
        return undefined
      case 8:
        checkSubscriptionHead(walk, version, 'subscribe')
        return undefined
      case 10:
        checkSubscriptionHead(walk, version, 'unsubscribe')
        return undefined
      case 12:
        return remaining === 0 ? undefined : malformed('PINGREQ with a payload')
      case 14:
        if (version < 5) return remaining === 0 ? undefined : malformed('DISCONNECT with a payload')
        if (remaining >= 2) {
          walk.pos += 1
          walk.properties('disconnect')
        }
        return undefined
      case 15:
        if (version === 5 && remaining >= 2) {
          walk.pos += 1
          walk.properties('auth')
        }
        return undefined
      default: {
        const name = SERVER_ONLY[type]
        return name === undefined ? undefined : protocolError(`${name} is only sent by a server`)
      }
    }
  } catch (stop) {
    if (stop instanceof Stop) return stop.violation ?? undefined
    throw stop
  }
}

function checkConnect(walk: Walk): void {
  const nameStart = walk.pos + 2
  walk.binary()
  const name = walk.frame.toString('latin1', nameStart, walk.pos)
  // Any other protocol name is the parser's to refuse (a malformed packet).
  if (name !== 'MQTT' && name !== 'MQIsdp') return
  // Bit 7 marks a bridge (Mosquitto's try_private) on levels 3 and 4.
  const level = walk.byte() & 0x7f
  // [MQTT-3.1.2-2] an unknown level is answered with CONNACK 0x01 (the connection acts on this code), whatever follows it.
  if (level < 3 || level > 5) throw new Stop(new ProtocolViolation(ErrorCode.UnsupportedProtocolVersion, ReasonCode.UnsupportedProtocolVersion, `protocol level ${level}`))
  const flags = walk.byte()
  walk.int16()
  if (level === 5) walk.properties('connect')
  walk.text('client identifier')
  if (flags & WILL_FLAG) {
    if (level === 5) walk.properties('will')
    walk.text('will topic')
    walk.binary()
  }
  if (flags & USERNAME_FLAG) walk.text('user name')
  if (flags & PASSWORD_FLAG) walk.binary()
  // [MQTT-3.1.2-18] [MQTT-3.1.2-20] (5.0: -16, -18) no user name or password unless its flag says so
  if (walk.pos !== walk.end) throw new Stop(malformed('CONNECT carries data its flags do not announce'))
}

function checkPublish(walk: Walk, header: number, version: number): void {
  const qos = (header >> 1) & 3
  if (qos === 0 && (header & 0x08) !== 0) throw new Stop(malformed('QoS 0 PUBLISH with DUP set')) // [MQTT-3.3.1-2]
  walk.text('topic name')
  if (qos > 0) walk.int16()
  if (version === 5) walk.properties('publish')
}

/**
 * What is wrong with the UTF-8 Encoded String in `frame[start, end)`: U+0000 or ill-formed UTF-8
 * [MQTT-1.5.4-1] [MQTT-1.5.4-2]. Most strings are ASCII: checked in place, without a view per string.
 */
export function textViolation(frame: Buffer, start: number, end: number, what: string): ProtocolViolation | undefined {
  let ascii = true
  for (let i = start; i < end; i++) {
    const byte = frame[i] as number
    if (byte === 0) return malformed(`${what} contains U+0000`)
    if (byte > 0x7f) ascii = false
  }
  return ascii || isUtf8(frame.subarray(start, end)) ? undefined : malformed(`${what} is not well-formed UTF-8`)
}

/** A SUBSCRIBE's or UNSUBSCRIBE's packet id and properties: its filters are checked as they are decoded (subscription-packets.ts). */
function checkSubscriptionHead(walk: Walk, version: number, context: 'subscribe' | 'unsubscribe'): void {
  walk.int16()
  if (version === 5) walk.properties(context)
}

/**
 * The checks a 3.1/3.1.1 PUBLISH parsed on the fast path needs: its DUP flag and its topic, decoded as
 * `topic`. Decoding turns an ill-formed sequence into U+FFFD, so only a topic showing one (which may also
 * have been sent as a valid U+FFFD) costs a look at its bytes.
 */
export function publishTopicViolation(buffer: Buffer, header: number, topic: string, topicStart: number, topicEnd: number): ProtocolViolation | undefined {
  if ((header & 0x06) === 0 && (header & 0x08) !== 0) return malformed('QoS 0 PUBLISH with DUP set') // [MQTT-3.3.1-2]
  if (topic.includes('\u0000')) return malformed('topic name contains U+0000') // [MQTT-1.5.3-2]
  if (topic.includes('\uFFFD') && !isUtf8(buffer.subarray(topicStart, topicEnd))) return malformed('topic name is not well-formed UTF-8') // [MQTT-1.5.3-1]
  return undefined
}
