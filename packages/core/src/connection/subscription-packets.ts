import type { ISubscribePacket, ISubscription, IUnsubscribePacket, UserProperties } from 'mqtt-packet'
import { ProtocolViolation, malformed, protocolError } from '../errors.js'
import { textViolation } from './wire-rules.js'

/**
 * SUBSCRIBE and UNSUBSCRIBE decoded straight from the frame. Either may carry thousands of filters: the generic
 * parser copies each through a buffer list and took tens of milliseconds (on a loaded machine, hundreds) for one
 * packet, holding every other client. The frame has passed `frameViolation` already, so its properties are known,
 * allowed and not duplicated; only what those rules leave (header flags, lengths) is checked here. The filters
 * are checked and decoded one at a time by the handler (`SubscribeFilters`, `UnsubscribeFilters`), which takes
 * turns with other clients between slices of them.
 */

const SUBSCRIPTION_IDENTIFIER = 11
const USER_PROPERTY = 38
/** Fixed header flags SUBSCRIBE and UNSUBSCRIBE must carry [MQTT-3.8.1-1] [MQTT-3.10.1-1]. */
const REQUIRED_FLAGS = 0x02

class Reader {
  constructor(
    readonly frame: Buffer,
    public pos: number,
  ) {}

  get left(): number {
    return this.frame.length - this.pos
  }

  int16(): number | undefined {
    if (this.left < 2) return undefined
    const value = this.frame.readUInt16BE(this.pos)
    this.pos += 2
    return value
  }

  /** `frameViolation` allows at most four bytes; undefined when the frame ends first. */
  varint(): number | undefined {
    let value = 0
    let multiplier = 1
    while (this.pos < this.frame.length) {
      const byte = this.frame[this.pos++] as number
      value += (byte & 0x7f) * multiplier
      if ((byte & 0x80) === 0) return value
      multiplier *= 128
    }
    return undefined
  }

  text(): string | undefined {
    const length = this.int16()
    if (length === undefined || this.left < length) return undefined
    const value = this.frame.toString('utf8', this.pos, this.pos + length)
    this.pos += length
    return value
  }
}

interface Properties {
  subscriptionIdentifier?: number
  userProperties?: UserProperties
}

const shortProperties = (): ProtocolViolation => malformed('property list overruns the packet')

/** A v5 property list already checked by `frameViolation`: only Subscription Identifier and User Property occur. */
function readProperties(reader: Reader): Properties | ProtocolViolation {
  const length = reader.varint()
  if (length === undefined || length > reader.left) return shortProperties()
  const end = reader.pos + length
  const properties: Properties = {}
  while (reader.pos < end) {
    const id = reader.frame[reader.pos++] as number
    if (id === SUBSCRIPTION_IDENTIFIER) {
      const identifier = reader.varint()
      if (identifier === undefined || reader.pos > end) return shortProperties()
      if (identifier === 0) return protocolError('Subscription Identifier 0') // §3.8.2.1.2
      properties.subscriptionIdentifier = identifier
    } else if (id === USER_PROPERTY) {
      const name = reader.text()
      const value = reader.text()
      if (name === undefined || value === undefined || reader.pos > end) return shortProperties()
      const user = (properties.userProperties ??= {})
      const earlier = user[name]
      if (earlier === undefined) user[name] = value
      else if (Array.isArray(earlier)) earlier.push(value)
      else user[name] = [earlier, value]
    } else return shortProperties()
  }
  return properties
}

function start(frame: Buffer, bodyStart: number, version: number, packet: string): { reader: Reader; messageId: number; properties?: Properties } | ProtocolViolation {
  if (((frame[0] as number) & 0x0f) !== REQUIRED_FLAGS) return malformed(`Invalid header flag bits, must be 0x2 for ${packet} packet`)
  const reader = new Reader(frame, bodyStart)
  const messageId = reader.int16()
  if (messageId === undefined) return malformed('Cannot parse messageId')
  if (version !== 5) return { reader, messageId }
  if (reader.left === 0) return malformed(`Malformed ${packet}, no properties`)
  const properties = readProperties(reader)
  if (properties instanceof ProtocolViolation) return properties
  return { reader, messageId, properties }
}

/** One topic filter [MQTT-4.7.3-1] [MQTT-1.5.4-1] [MQTT-1.5.4-2]: well-formed UTF-8, no U+0000, not empty, with `after` more bytes behind it. */
function readFilter(reader: Reader, after: number, short: string): string | ProtocolViolation {
  const length = reader.int16()
  if (length === undefined || reader.left < length + after) return malformed(short)
  const start = reader.pos
  const violation = textViolation(reader.frame, start, start + length, 'topic filter')
  if (violation) return violation
  if (length === 0) return malformed('empty topic filter')
  reader.pos += length
  return reader.frame.toString('utf8', start, start + length)
}

/**
 * A SUBSCRIBE as the reader hands it on: `subscriptions` is empty until the handler has read `filters` into it,
 * in slices (a packet of thousands of filters must not hold the event loop for its whole length).
 */
export interface SubscribeRequest extends ISubscribePacket {
  filters: SubscribeFilters
}

/** A SUBSCRIBE's filters [MQTT-3.8.3], each checked and decoded when asked for: well-formed UTF-8, no U+0000, not empty, valid options. */
export class SubscribeFilters {
  constructor(
    private readonly reader: Reader,
    private readonly version: number,
  ) {}

  /** The next filter, null after the last one; a violation means the whole packet is refused. */
  next(): ISubscription | ProtocolViolation | null {
    const reader = this.reader
    if (reader.left === 0) return null
    // Each filter is followed by its options byte.
    const topic = readFilter(reader, 1, 'Malformed Subscribe Payload')
    if (typeof topic !== 'string') return topic
    const options = reader.frame[reader.pos++] as number
    const version = this.version
    // [MQTT-3.8.3-4] (3.1.1: -5) reserved bits are 0; QoS 3 and Retain Handling 3 do not exist
    if (options & (version === 5 ? 0xc0 : 0xfc)) return malformed('Invalid subscribe topic flag bits')
    const qos = options & 0x03
    if (qos > 2) return malformed('Invalid subscribe QoS, must be <= 2')
    const rh = (options >> 4) & 0x03
    if (rh > 2) return malformed('Invalid retain handling, must be <= 2')
    return version === 5 ? { topic, qos: qos as 0 | 1 | 2, nl: (options & 0x04) !== 0, rap: (options & 0x08) !== 0, rh } : { topic, qos: qos as 0 | 1 | 2 }
  }
}

/** SUBSCRIBE [MQTT-3.8]: packet id and v5 properties now; the filters, each with an options byte, as the handler reads them. */
export function decodeSubscribe(frame: Buffer, bodyStart: number, version: number): SubscribeRequest | ProtocolViolation {
  const begun = start(frame, bodyStart, version, 'subscribe')
  if (begun instanceof ProtocolViolation) return begun
  const packet: SubscribeRequest = { cmd: 'subscribe', messageId: begun.messageId, subscriptions: [], filters: new SubscribeFilters(begun.reader, version) }
  if (begun.properties && Object.keys(begun.properties).length > 0) packet.properties = begun.properties
  return packet
}

/** An UNSUBSCRIBE as the reader hands it on: `unsubscriptions` is empty until the handler has read `filters` into it. */
export interface UnsubscribeRequest extends IUnsubscribePacket {
  filters: UnsubscribeFilters
}

/** An UNSUBSCRIBE's filters [MQTT-3.10.3], each checked and decoded when asked for. */
export class UnsubscribeFilters {
  constructor(private readonly reader: Reader) {}

  /** The next filter, null after the last one; a violation means the whole packet is refused. */
  next(): string | ProtocolViolation | null {
    return this.reader.left === 0 ? null : readFilter(this.reader, 0, 'Cannot parse topic')
  }
}

/** UNSUBSCRIBE [MQTT-3.10]: packet id and v5 properties now; the filters as the handler reads them. */
export function decodeUnsubscribe(frame: Buffer, bodyStart: number, version: number): UnsubscribeRequest | ProtocolViolation {
  const begun = start(frame, bodyStart, version, 'unsubscribe')
  if (begun instanceof ProtocolViolation) return begun
  const packet: UnsubscribeRequest = { cmd: 'unsubscribe', messageId: begun.messageId, unsubscriptions: [], filters: new UnsubscribeFilters(begun.reader) }
  if (begun.properties?.userProperties) packet.properties = { userProperties: begun.properties.userProperties }
  return packet
}
