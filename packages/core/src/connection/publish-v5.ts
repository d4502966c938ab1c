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
 * Encodes a v5 PUBLISH with the message's properties, the remaining expiry and subscription identifiers.
 * Only the per-client parts (topic or alias, packet id, expiry, identifiers, flags) are written per call.
 * Without `withPayload` only the packet up to its payload is returned, for a payload written on its own.
 */
export function encodePublishV5(
  message: Message,
  entry: OutboundEntry,
  dup: boolean,
  retain: boolean,
  remainingExpiry: number | undefined,
  link: { outboundAliases: OutboundAliases | null; lastNewAlias: number },
  withPayload: boolean,
): Buffer {
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
  const topicLength = Buffer.byteLength(topic)
  const qos = entry.qos
  const size = payloadLength(message)
  const remaining = 2 + topicLength + (qos > 0 ? 2 : 0) + varintLength(propertiesLength) + propertiesLength + size
  const buffer = Buffer.allocUnsafe(1 + varintLength(remaining) + remaining - (withPayload ? 0 : size))
  buffer[0] = 0x30 | (dup ? 0x08 : 0) | (qos << 1) | (retain ? 1 : 0)
  let pos = writeVarint(buffer, 1, remaining)
  buffer.writeUInt16BE(topicLength, pos)
  pos += 2
  pos += buffer.write(topic, pos, 'utf8')
  if (qos > 0) {
    buffer.writeUInt16BE(entry.packetId ?? 0, pos)
    pos += 2
  }
  pos = writeVarint(buffer, pos, propertiesLength)
  pos += carried.copy(buffer, pos)
  if (remainingExpiry !== undefined) {
    buffer[pos] = 0x02
    buffer.writeUInt32BE(remainingExpiry, pos + 1)
    pos += 5
  }
  if (alias !== 0) {
    buffer[pos] = 0x23
    buffer.writeUInt16BE(alias, pos + 1)
    pos += 3
  }
  if (ids) {
    for (const id of ids) {
      buffer[pos++] = 0x0b
      pos = writeVarint(buffer, pos, id)
    }
  }
  if (withPayload) message.payload.copy(buffer, pos)
  return buffer
}
