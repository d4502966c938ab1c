import type { OutboundEntry } from '../persistence/persistence.js'
import type { Message } from '../types.js'
import { varintLength, writeVarint } from './packet-encoder.js'
import { payloadLength } from './split-payload.js'

/**
 * Server-to-client topic aliases (MQTT 5 §3.3.2.3.4): the first send of a topic carries topic and alias,
 * later ones an empty topic and the alias. Aliases are handed out until the client's maximum, never reused.
 */
export class OutboundAliases {
  private readonly byTopic = new Map<string, number>()
  /** Length of the topics held (UTF-16 units): past the budget, topics are sent in full rather than aliased. */
  private held = 0
  constructor(
    private readonly maximum: number,
    private readonly maxBytes: number,
  ) {}

  /** Undoes a new alias whose packet was never sent (e.g. too large for the client). */
  forget(topic: string, alias: number): void {
    if (this.byTopic.get(topic) === alias && alias === this.byTopic.size) {
      this.byTopic.delete(topic)
      this.held -= topic.length
    }
  }

  /** [alias, isNew]; alias 0 when no alias is available. */
  aliasFor(topic: string): [number, boolean] {
    const existing = this.byTopic.get(topic)
    if (existing !== undefined) return [existing, false]
    if (this.byTopic.size >= this.maximum || this.held + topic.length > this.maxBytes) return [0, false]
    const alias = this.byTopic.size + 1
    this.byTopic.set(topic, alias)
    this.held += topic.length
    return [alias, true]
  }
}

/**
 * The properties a message carries end to end, encoded: fan-out sends one message to many v5 clients in a
 * row, so the last message's bytes are kept and reused (a PUBLISH with 100,000 user properties to 20
 * subscribers encodes them once, not 20 times).
 */
const NO_PROPERTIES = Buffer.alloc(0)
let lastMessage: Message | null = null
let lastProperties: Buffer = NO_PROPERTIES

function carriedProperties(message: Message): Buffer {
  if (message === lastMessage) return lastProperties
  const source = message.properties
  let size = 0
  if (source) {
    if (source.payloadFormatIndicator !== undefined) size += 2
    if (source.contentType !== undefined) size += 3 + Buffer.byteLength(source.contentType)
    if (source.responseTopic !== undefined) size += 3 + Buffer.byteLength(source.responseTopic)
    if (source.correlationData !== undefined) size += 3 + source.correlationData.length
    const user = source.userProperties
    if (user) {
      for (const key in user) {
        const keyBytes = Buffer.byteLength(key)
        const value = user[key] as string | string[]
        if (typeof value === 'string') size += 5 + keyBytes + Buffer.byteLength(value)
        else for (const v of value) size += 5 + keyBytes + Buffer.byteLength(v)
      }
    }
  }
  lastMessage = message
  if (size === 0) {
    // Most messages carry none: no buffer (nor the writer below) per message.
    lastProperties = NO_PROPERTIES
    return NO_PROPERTIES
  }
  const out = Buffer.allocUnsafe(size)
  let pos = 0
  const text = (id: number, value: string): void => {
    out[pos] = id
    const length = out.write(value, pos + 3, 'utf8')
    out.writeUInt16BE(length, pos + 1)
    pos += 3 + length
  }
  if (source) {
    if (source.payloadFormatIndicator !== undefined) {
      out[pos++] = 0x01
      out[pos++] = source.payloadFormatIndicator ? 1 : 0
    }
    if (source.contentType !== undefined) text(0x03, source.contentType)
    if (source.responseTopic !== undefined) text(0x08, source.responseTopic)
    if (source.correlationData !== undefined) {
      out[pos] = 0x09
      out.writeUInt16BE(source.correlationData.length, pos + 1)
      source.correlationData.copy(out, pos + 3)
      pos += 3 + source.correlationData.length
    }
    const user = source.userProperties
    if (user) {
      for (const key in user) {
        const value = user[key] as string | string[]
        for (const v of typeof value === 'string' ? [value] : value) {
          text(0x26, key)
          const length = out.write(v, pos + 2, 'utf8')
          out.writeUInt16BE(length, pos)
          pos += 2 + length
        }
      }
    }
  }
  lastProperties = out
  return out
}

/**
 * What `planPublishV5` sized, for `writePublishV5At` to write: module state read at once by the same caller, so
 * sizing a PUBLISH (to check it against the client's Maximum Packet Size) allocates nothing.
 */
let planTopic = ''
let planAlias = 0
let planCarried: Buffer = Buffer.alloc(0)
let planPropertiesLength = 0
let planRemaining = 0

/**
 * Sizes a v5 PUBLISH with the message's properties, the remaining expiry and subscription identifiers, choosing its
 * topic alias; returns the whole packet's bytes, payload included. `writePublishV5At` writes what it planned.
 */
export function planPublishV5(
  message: Message,
  entry: OutboundEntry,
  dup: boolean,
  remainingExpiry: number | undefined,
  link: { outboundAliases: OutboundAliases | null; lastNewAlias: number },
): number {
  let topic = message.topic
  let alias = 0
  link.lastNewAlias = 0
  // A resend (dup) keeps the full topic: the alias mapping may not have survived a reconnect.
  if (link.outboundAliases && !dup) {
    const [given, isNew] = link.outboundAliases.aliasFor(topic)
    if (given !== 0) {
      alias = given
      if (isNew) link.lastNewAlias = given
      else topic = ''
    }
  }
  const carried = carriedProperties(message)
  const ids = entry.subscriptionIdentifiers
  let propertiesLength = carried.length
  // [MQTT-3.3.2-6] the receiver gets the remaining lifetime, not the original interval
  if (remainingExpiry !== undefined) propertiesLength += 5
  if (alias !== 0) propertiesLength += 3
  if (ids) for (const id of ids) propertiesLength += 1 + varintLength(id)
  const remaining = 2 + Buffer.byteLength(topic) + (entry.qos > 0 ? 2 : 0) + varintLength(propertiesLength) + propertiesLength + payloadLength(message)
  planTopic = topic
  planAlias = alias
  planCarried = carried
  planPropertiesLength = propertiesLength
  planRemaining = remaining
  return 1 + varintLength(remaining) + remaining
}

/**
 * Writes the PUBLISH `planPublishV5` just sized at `at` (only the per-client parts, topic or alias, packet id,
 * expiry, identifiers and flags, are written per call); without `withPayload` it stops before the payload, for a
 * payload written on its own.
 */
export function writePublishV5At(buffer: Buffer, at: number, message: Message, entry: OutboundEntry, dup: boolean, retain: boolean, remainingExpiry: number | undefined, withPayload: boolean): void {
  const qos = entry.qos
  buffer[at] = 0x30 | (dup ? 0x08 : 0) | (qos << 1) | (retain ? 1 : 0)
  let pos = writeVarint(buffer, at + 1, planRemaining)
  pos += 2
  const topicLength = buffer.write(planTopic, pos, 'utf8')
  buffer.writeUInt16BE(topicLength, pos - 2)
  pos += topicLength
  if (qos > 0) {
    buffer.writeUInt16BE(entry.packetId ?? 0, pos)
    pos += 2
  }
  pos = writeVarint(buffer, pos, planPropertiesLength)
  pos += planCarried.copy(buffer, pos)
  if (remainingExpiry !== undefined) {
    buffer[pos] = 0x02
    buffer.writeUInt32BE(remainingExpiry, pos + 1)
    pos += 5
  }
  if (planAlias !== 0) {
    buffer[pos] = 0x23
    buffer.writeUInt16BE(planAlias, pos + 1)
    pos += 3
  }
  const ids = entry.subscriptionIdentifiers
  if (ids) {
    for (const id of ids) {
      buffer[pos++] = 0x0b
      pos = writeVarint(buffer, pos, id)
    }
  }
  if (withPayload) message.payload.copy(buffer, pos)
}

/** The PUBLISH `planPublishV5` just sized, in a Buffer of its own (up to its payload without `withPayload`). */
export function encodePlannedPublishV5(length: number, message: Message, entry: OutboundEntry, dup: boolean, retain: boolean, remainingExpiry: number | undefined, withPayload: boolean): Buffer {
  const buffer = Buffer.allocUnsafe(withPayload ? length : length - payloadLength(message))
  writePublishV5At(buffer, 0, message, entry, dup, retain, remainingExpiry, withPayload)
  return buffer
}
