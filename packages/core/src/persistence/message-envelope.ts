import type { Message, MessageProperties, QoS } from '../types.js'

/** A message's fields but its payload, as JSON can carry them (correlation data as base64). */
export interface MessageHeader {
  id?: string
  topic: string
  qos: QoS
  retain: boolean
  origin?: string
  expiresAt?: number
  properties?: Omit<MessageProperties, 'correlationData'> & { correlationData?: string }
}

/**
 * One binary value for a stored or transmitted message: `prefix` bytes (e.g. a frame kind), a 4-byte
 * header length, a JSON header, then the payload bytes as they are. Payloads stay raw (no base64): less
 * memory, no encoding work. Used by the Redis adapter and the Redis cluster bus.
 */
export function encodeEnvelope(header: object, payload: Buffer, prefix?: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(header))
  const length = Buffer.allocUnsafe(4)
  length.writeUInt32BE(json.length)
  return Buffer.concat(prefix ? [prefix, length, json, payload] : [length, json, payload])
}

/** The envelope at `value[offset, end)`: the end of `value` unless it holds more after the envelope. */
export function decodeEnvelope<T>(value: Buffer, offset = 0, end = value.length): { header: T; payload: Buffer } {
  const start = offset + 4
  const headerEnd = start + value.readUInt32BE(offset)
  // A copy, so that a message kept in a queue does not pin the whole value it came in.
  const payload = Buffer.allocUnsafe(end - headerEnd)
  value.copy(payload, 0, headerEnd, end)
  return { header: JSON.parse(value.toString('utf8', start, headerEnd)) as T, payload }
}

export function messageHeader(message: Message): MessageHeader {
  const { payload: _payload, properties, ...rest } = message
  const header: MessageHeader = rest
  if (properties) {
    const { correlationData, ...others } = properties
    header.properties = correlationData ? { ...others, correlationData: correlationData.toString('base64') } : others
  }
  return header
}

/** Field by field rather than by spreading the header: a drain or a cluster node decodes one per message. */
export function messageFromHeader(header: MessageHeader, payload: Buffer): Message {
  const message: Message = { topic: header.topic, payload, qos: header.qos, retain: header.retain }
  if (header.id !== undefined) message.id = header.id
  if (header.origin !== undefined) message.origin = header.origin
  if (header.expiresAt !== undefined) message.expiresAt = header.expiresAt
  const properties = header.properties
  if (properties) {
    const { correlationData, ...others } = properties
    message.properties = correlationData === undefined ? others : { ...others, correlationData: Buffer.from(correlationData, 'base64') }
  }
  return message
}
