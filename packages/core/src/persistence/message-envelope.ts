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

export function decodeEnvelope<T>(value: Buffer, offset = 0): { header: T; payload: Buffer } {
  const length = value.readUInt32BE(offset)
  const start = offset + 4
  return {
    header: JSON.parse(value.toString('utf8', start, start + length)) as T,
    // A copy, so that a message kept in a queue does not pin the whole value it came in.
    payload: Buffer.from(value.subarray(start + length)),
  }
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

export function messageFromHeader(header: MessageHeader, payload: Buffer): Message {
  const { properties, ...rest } = header
  const message: Message = { ...rest, payload }
  if (properties) {
    const { correlationData, ...others } = properties
    message.properties = correlationData === undefined ? others : { ...others, correlationData: Buffer.from(correlationData, 'base64') }
  }
  return message
}
