import type { Message, MessageProperties, QoS, WillRecord } from '@wren/core'

/**
 * A stored message is one binary value: a 4-byte length, a JSON header (every field but the payload), then the
 * payload bytes as they are. Payloads stay raw, not base64: a third less memory in Redis, no encoding work,
 * and one GET/HGET returns the whole message. Only correlation data, small and rare, rides in the header as base64.
 */

interface MessageHeader {
  id?: string
  topic: string
  qos: QoS
  retain: boolean
  origin?: string
  expiresAt?: number
  properties?: Omit<MessageProperties, 'correlationData'> & { correlationData?: string }
}

interface WillHeader {
  clientId: string
  brokerId?: string
  delayInterval: number
  message: MessageHeader
}

function encode(header: object, payload: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(header))
  const length = Buffer.allocUnsafe(4)
  length.writeUInt32BE(json.length)
  return Buffer.concat([length, json, payload])
}

function decode<T>(value: Buffer): { header: T; payload: Buffer } {
  const length = value.readUInt32BE(0)
  return {
    header: JSON.parse(value.toString('utf8', 4, 4 + length)) as T,
    // A copy, so the message does not pin the whole reply buffer.
    payload: Buffer.from(value.subarray(4 + length)),
  }
}

function messageHeader(message: Message): MessageHeader {
  const { payload: _payload, properties, ...rest } = message
  const header: MessageHeader = rest
  if (properties) {
    const { correlationData, ...others } = properties
    header.properties = correlationData ? { ...others, correlationData: correlationData.toString('base64') } : others
  }
  return header
}

function messageFrom(header: MessageHeader, payload: Buffer): Message {
  const { properties, ...rest } = header
  const message: Message = { ...rest, payload }
  if (properties) {
    const { correlationData, ...others } = properties
    message.properties = correlationData === undefined ? others : { ...others, correlationData: Buffer.from(correlationData, 'base64') }
  }
  return message
}

export function encodeMessage(message: Message): Buffer {
  return encode(messageHeader(message), message.payload)
}

export function decodeMessage(value: Buffer): Message {
  const { header, payload } = decode<MessageHeader>(value)
  return messageFrom(header, payload)
}

export function encodeWill(record: WillRecord): Buffer {
  const header: WillHeader = { clientId: record.clientId, delayInterval: record.delayInterval, message: messageHeader(record.message) }
  if (record.brokerId !== undefined) header.brokerId = record.brokerId
  return encode(header, record.message.payload)
}

export function decodeWill(value: Buffer): WillRecord {
  const { header, payload } = decode<WillHeader>(value)
  const record: WillRecord = { clientId: header.clientId, delayInterval: header.delayInterval, message: messageFrom(header.message, payload) }
  if (header.brokerId !== undefined) record.brokerId = header.brokerId
  return record
}
